"""Image-quality checks for patient phone photos of skin lesions (pure numpy/OpenCV, no I/O, no state).

``assess_quality(rgb, original_size=...)`` says at once whether a dermatologist could judge a submitted
photo and, if not, what the patient should do differently. Every check gives a score in [0, 1] (higher
is better, rounded to 3 decimals) and passes when ``score >= threshold``; the verdict is "accept" only
if every check passes, else "retake".

Scale. All pixel checks run on one analysis image: the input resized so its long side is
``ANALYSIS_LONG_SIDE`` = 384 px (INTER_AREA when shrinking; a smaller input is enlarged with
INTER_LINEAR), so a photo sent at 1008 px or at 512 px gets nearly the same scores. 384 and not 512
because the calibration photos are mostly 300 px originals: sharpness thresholds calibrated on heavily
enlarged images would be lax for real phone photos. Glare runs on a 192 px copy, skin / lesion / colour
on a 128 px copy that is first brightened if dark (median luma raised to 0.5, gain <= 4), so that those
checks judge colours, not exposure (exposure has its own checks).

Checks, in the order of ``QualityReport.instructions`` (``IMPORTANCE``):

==============  =====  ===================================================================================
check           pass   what the score measures / the patient instruction when it fails
==============  =====  ===================================================================================
skin_present    >=0.5  share of the unclipped pixels inside an inclusive YCrCb skin model (Y 20-250,
                       Cr 129-180, Cb 75-133, Cr - Cb >= 6; covers Fitzpatrick I-VI), / 0.6: fails below
                       30 % skin. (Almost all clipped: not judged, overexposure fails instead.)
                       "Make sure the photo shows the skin around the spot, filling most of the picture."
lesion_framing  >=0.4  the lesion = the most salient, roundest, most central region whose CIELAB colour
                       differs from the skin (skin modelled by a quadratic shading surface). Score = min(
                       size: sqrt(area / 10 %), i.e. fails below 1.6 % of the frame;
                       position: min(1 - (centroid offset - 0.35) / 0.5, 1 - edge cut), offset 0 at the
                       centre and 1 at the frame edge, edge cut = lesion pixels on the frame edge /
                       equivalent diameter). No lesion found: 0. The instruction is the worse part's:
                       size  -> "Move closer so the spot fills about a third of the photo."
                       place -> "Centre the spot and keep all of it inside the frame."
focus_blur      >=0.5  edge sharpness in the central 70 %: at edge pixels (gradient ridge, 7x7 range above
                       max(0.02, half its 97th percentile), dominant in its window) |gradient| / 7x7
                       range, which is 0.5 for a perfect step and ~0.4/sigma for a Gaussian blur of sigma
                       px, whatever the contrast; 75th percentile per edge orientation (8 bins); score =
                       sharpest orientation / 0.5, so only blur in every direction (defocus) fails it.
                       "Hold the phone about 10-15 cm from the skin and tap the spot on the screen so the
                       camera focuses on it."
motion_blur     >=0.43 the same sharpness in the blurriest orientation (b) and the sharpest (s):
                       score = max(b / 0.5, b / s - 0.37), so it fails only when one direction is soft
                       (b < 0.215) *and* the softness is directional (b / s < 0.8).
                       "Hold the phone steady - rest your elbow on a table - and take the photo again."
underexposure   >=0.5  brightness = 0.5 x median + 0.5 x 99th percentile of luma (0-1), / 0.4: fails
                       below 0.2. Set low on purpose so that well-lit dark skin passes (a Fitzpatrick V-VI
                       tone of RGB (90, 60, 45) scores ~0.7).
                       "Move to a brighter place with even light, such as near a window during the day."
overexposure    >=0.5  1 - max(clipped share (any channel >= 250) / 0.5, (5th-percentile luma - 0.6) /
                       0.35): fails with >= 25 % clipped or when even the darkest parts are washed out.
                       "The photo is too bright: move out of direct sunlight or turn the flash off."
glare           >=0.5  area share of specular highlights: nearly clipped (V >= 245), white (S <= 70, every
                       channel >= 215) blobs >= 25 levels above their surroundings (white top-hat, disc of
                       15 % of the side), each <= 5 % of the frame; score = 1 - share / 1.4 %: fails from
                       0.7 % of the frame.
                       "Avoid shine on the skin: turn the flash off and tilt the phone slightly so lights
                       don't reflect."
colour_cast     >=0.5  CIELAB distance of the frame's median (a*, b*) outside the region of skin photos
                       in daylight (a* >= 0: not green; b* >= 0: not blue; chroma <= 38: not strongly
                       orange/yellow); score = 1 - distance / 6: fails beyond 3 units.
                       "Take the photo in daylight or white light; avoid coloured or yellow lamps."
resolution      >=0.3  log2(short side of the original photo / 128) / 3: fails below 238 px (a floor:
                       320x240 and the 300x300 PAD-UFES-20 photos pass, 200x150 thumbnails fail). Until
                       quality-checks-1 it failed below 446 px, which rejected 92 % of the PAD-UFES-20
                       photos dermatologists diagnosed from; whether a larger photo holds enough detail
                       (digital zoom, an enlarged thumbnail) is the learned quality model's call.
                       "Use your phone's main camera at full resolution, and send the photo itself rather
                       than a screenshot or a thumbnail."
==============  =====  ===================================================================================

Why this order: first what makes the photo useless whatever else is fixed (no skin in view, no usable
view of the spot), then sharpness (no processing can restore it), then light and colour, and resolution
last (a photo that is otherwise good is often still readable when small). Duplicates are dropped.

``QualityReport.score`` is the worst check after mapping each score piecewise-linearly so that 0 -> 0,
its threshold -> 0.5 and 1 -> 1 (a failing report is capped at 0.499): ``score >= 0.5`` exactly when
the verdict is "accept", and the score says how close the worst check is to its threshold.

Calibration: ``python bench/quality_calibration.py --data-dir ../shared/data`` on the 559 PAD-UFES-20
photos of train patients, each scored clean and with the defects of ``data_pipelines.degrade`` (moderate /
severe); quality-checks-2:

    check           thr  clean pass   defect   mod fail sev fail AUC mod AUC sev
    resolution      0.30  100.0% *    low_res    97.1%   100.0%   rule     rule
    focus_blur      0.50   97.7%      defocus   100.0%    99.5%   1.000    0.999
    motion_blur     0.43   97.3%      motion     90.2%    88.2%   0.989    0.983
    underexposure   0.50  100.0%      dark        4.3%    91.2%   0.997    1.000
    overexposure    0.50   99.3%      bright     84.1%    99.6%   0.987    0.999
    glare           0.50   98.9%      glare      99.3%    84.1%   0.997    0.992
    colour_cast     0.50   97.3%      cast       63.7%    88.2%   0.844    0.950
    skin_present    0.50   97.7%      no_skin    98.2%    97.3%   0.979    0.988
    lesion_framing  0.40   94.6%      tiny       20.4%    70.7%   0.812    0.951
                                      off_centre 83.0%    85.2%   0.940    0.959

Clean photos accepted: 84.4 % (resolution on the photos' own sizes). (*) The 300x300 PAD-UFES-20 photos
pass the resolution floor. The "moderate" darkening leaves light skin as bright as well-lit dark skin and
is not meant to fail. The checks alone are not the service's verdict when the learned quality model is
loaded: ``model.quality_verdict`` combines both (sharpness, glare, colour and framing checks then only
inform the instructions). ``assess_quality`` on a 1008x756 input: 8-12 ms median on one core.

Modules: ``report`` (names, thresholds, instructions, result types), ``imaging`` (analysis scales and
shared helpers), ``sharpness`` (resolution, focus, motion), ``exposure`` (under/overexposure, glare),
``colour`` (colour cast, skin), ``framing`` (lesion localisation and framing) and ``assess``
(``assess_quality``). Import from the package: ``from model.quality_checks import ...``.
"""

from __future__ import annotations

from model.quality_checks.assess import assess_quality
from model.quality_checks.colour import colour_cast_score, skin_fraction, skin_mask, skin_score
from model.quality_checks.exposure import glare_fraction, glare_score, overexposure_score, underexposure_score
from model.quality_checks.framing import LesionRegion, find_lesion, framing_scores, locate_lesion
from model.quality_checks.imaging import ANALYSIS_LONG_SIDE, GLARE_LONG_SIDE, SEGMENT_LONG_SIDE
from model.quality_checks.report import (
    CHECK_NAMES,
    CHECKS_VERSION,
    IMPORTANCE,
    INSTRUCTION_CENTRE,
    INSTRUCTION_MOVE_CLOSER,
    INSTRUCTIONS,
    THRESHOLDS,
    CheckResult,
    QualityReport,
    Verdict,
)
from model.quality_checks.sharpness import directional_sharpness, focus_score, motion_score, resolution_score

__all__ = [
    "ANALYSIS_LONG_SIDE",
    "CHECKS_VERSION",
    "CHECK_NAMES",
    "GLARE_LONG_SIDE",
    "IMPORTANCE",
    "INSTRUCTIONS",
    "INSTRUCTION_CENTRE",
    "INSTRUCTION_MOVE_CLOSER",
    "SEGMENT_LONG_SIDE",
    "THRESHOLDS",
    "CheckResult",
    "LesionRegion",
    "QualityReport",
    "Verdict",
    "assess_quality",
    "colour_cast_score",
    "directional_sharpness",
    "find_lesion",
    "focus_score",
    "framing_scores",
    "glare_fraction",
    "glare_score",
    "locate_lesion",
    "motion_score",
    "overexposure_score",
    "resolution_score",
    "skin_fraction",
    "skin_mask",
    "skin_score",
    "underexposure_score",
]
