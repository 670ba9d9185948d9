"""English: the source texts. Every other locale translates exactly these ids.

Quality instructions are one action each, imperative, plain and short (at most 25 words); the advice
texts are the clinically reviewed sentences of ``model.triage.red_flags``, verbatim; the upload texts
are the ``fix`` of the photo refusals (``model.intake``, ``model.decode.errors``), verbatim.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- photo quality: what the patient should do differently (one action each) ---
    "quality.defocus_blur": (
        "Tap the spot on your screen so the camera focuses on it, holding the phone 10\u201315 cm away."
    ),
    "quality.motion_blur": "Rest your elbow on a table to hold the phone steady while you take the photo.",
    "quality.underexposure": (
        "Move to a brighter place with even light, such as near a window during the day."
    ),
    "quality.overexposure": (
        "Take the photo in soft, even light, out of direct sunlight and with the flash off."
    ),
    "quality.glare": "Tilt the phone slightly, with the flash off, so no light reflects off the skin.",
    "quality.noise": "Take the photo in brighter light, without zooming in.",
    "quality.jpeg_compression": (
        "Send the original photo from your camera, not a copy saved from a messaging app."
    ),
    "quality.low_resolution": (
        "Send the full-size photo from your phone's main camera, not a screenshot, a thumbnail or a "
        "zoomed-in shot."
    ),
    "quality.colour_cast": "Take the photo in daylight or white light, not under coloured or yellow lamps.",
    "quality.framing.move_closer": "Move closer so the spot fills about a third of the photo.",
    "quality.framing.centre": "Centre the spot and keep all of it inside the frame.",
    "quality.obstruction": (
        "Move fingers, hair or clothing out of the way so the whole spot and the skin around it can be seen."
    ),
    "quality.no_skin": "Point the camera at the spot so the skin around it fills most of the photo.",
    "quality.not_skin": (
        "Send a photo of your skin: a close, sharp picture of the spot with some skin around it."
    ),
    "quality.unreadable": "We could not open this photo: take a new photo of the spot and send it again.",
    # --- triage advice (clinically reviewed: verbatim from model.triage.red_flags) ---
    "advice.emergency": (
        "Seek in-person emergency care now: go to an emergency department or call your local emergency "
        "number. Do not wait for the online review."
    ),
    "advice.urgent": (
        "Your case is marked urgent and a dermatologist will review it as soon as possible. If you get "
        "worse before then (fever, severe pain, redness spreading fast, blisters, or sores in the mouth, "
        "eyes or genitals), seek in-person emergency care without waiting."
    ),
    # verbatim from model.triage.care_setting.IN_PERSON_ADVICE
    "advice.in_person_likely": (
        "A dermatologist will likely want to see this spot in person; we will tell you how after the review."
    ),
    # --- refused uploads: the ``fix`` of each refusal code (verbatim from model.intake / model.decode) ---
    "advice.retake_deadline_passed": (
        "No new photo arrived in time, so a dermatologist will now review your case with the photos you "
        "already sent. They may still ask you for a new photo."
    ),
    "upload.empty_file": "Attach the photo itself; the upload contained no data.",
    "upload.photo_too_large": (
        "Send a smaller file: choose a lower photo size or quality on the phone, or crop to the "
        "affected area."
    ),
    "upload.unsupported_format": (
        "Send the photo as a JPEG, PNG, WebP or HEIC/HEIF file (what phone cameras produce)."
    ),
    "upload.corrupt_image": (
        "The file is damaged or was cut off during upload: send the photo again from the original "
        "on the device."
    ),
    "upload.photo_error": "Send the photo again as a JPEG, PNG, WebP or HEIC file.",
    "upload.too_many_pixels": (
        "Resize the photo to at most {max_megapixels} megapixels and send it again (a phone "
        "camera's usual 12-megapixel photo, e.g. 4032x3024, is fine)."
    ),
}
