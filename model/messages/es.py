"""Spanish (neutral, formal "usted"): every id of ``model.messages.en``."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "quality.defocus_blur": (
        "Toque la lesión en la pantalla para que la cámara la enfoque, sosteniendo el teléfono a "
        "10\u201315 cm de distancia."
    ),
    "quality.motion_blur": "Apoye el codo en una mesa para mantener el teléfono firme mientras toma la foto.",
    "quality.underexposure": (
        "Vaya a un lugar más iluminado, con luz uniforme, por ejemplo cerca de una ventana durante el día."
    ),
    "quality.overexposure": "Tome la foto con luz suave y uniforme, sin sol directo y con el flash apagado.",
    "quality.glare": (
        "Incline un poco el teléfono, con el flash apagado, para que ninguna luz se refleje en la piel."
    ),
    "quality.noise": "Tome la foto con más luz y sin usar el zoom.",
    "quality.jpeg_compression": (
        "Envíe la foto original de la cámara, no una copia guardada desde una aplicación de mensajería."
    ),
    "quality.low_resolution": (
        "Envíe la foto en tamaño completo de la cámara principal del teléfono, no una captura de pantalla, "
        "una miniatura ni una foto con zoom."
    ),
    "quality.colour_cast": (
        "Tome la foto con luz del día o luz blanca, no bajo lámparas de color o amarillas."
    ),
    "quality.framing.move_closer": "Acérquese hasta que la lesión ocupe alrededor de un tercio de la foto.",
    "quality.framing.centre": "Coloque la lesión en el centro de la foto, sin que ninguna parte quede fuera.",
    "quality.obstruction": (
        "Aparte los dedos, el pelo o la ropa para que se vean toda la lesión y la piel de alrededor."
    ),
    "quality.no_skin": (
        "Apunte la cámara a la lesión de modo que la piel de alrededor ocupe la mayor parte de la foto."
    ),
    "quality.not_skin": (
        "Envíe una foto de su piel: una imagen cercana y nítida de la lesión con algo de piel alrededor."
    ),
    "quality.unreadable": "No pudimos abrir esta foto: tome una foto nueva de la lesión y envíela.",
    "advice.emergency": (
        "Busque atención de emergencia en persona ahora mismo: acuda a un servicio de urgencias o llame al "
        "número de emergencias de su zona. No espere a la revisión en línea."
    ),
    "advice.urgent": (
        "Su caso está marcado como urgente y un dermatólogo lo revisará lo antes posible. Si empeora antes "
        "(fiebre, dolor intenso, enrojecimiento que se extiende rápidamente, ampollas o llagas en la boca, "
        "los ojos o los genitales), busque atención de emergencia en persona sin esperar."
    ),
    "advice.in_person_likely": (
        "Es probable que un dermatólogo quiera ver esta lesión en persona; le indicaremos cómo hacerlo "
        "después de la revisión."
    ),
    "advice.retake_deadline_passed": (
        "No llegó una foto nueva a tiempo, así que un dermatólogo revisará ahora su caso con las fotos que "
        "ya envió. Es posible que aún le pida una foto nueva."
    ),
    "upload.empty_file": "Adjunte la foto en sí; el archivo enviado no contenía datos.",
    "upload.photo_too_large": (
        "Envíe un archivo más pequeño: elija un tamaño o una calidad de foto menor en el teléfono, o "
        "recorte la imagen a la zona afectada."
    ),
    "upload.unsupported_format": (
        "Envíe la foto como archivo JPEG, PNG, WebP o HEIC/HEIF (los formatos que usan las cámaras de los "
        "teléfonos)."
    ),
    "upload.corrupt_image": (
        "El archivo está dañado o se cortó durante el envío: vuelva a enviar la foto original desde el "
        "dispositivo."
    ),
    "upload.photo_error": "Vuelva a enviar la foto como archivo JPEG, PNG, WebP o HEIC.",
    "upload.too_many_pixels": (
        "Reduzca la foto a {max_megapixels} megapíxeles como máximo y vuelva a enviarla (la foto habitual "
        "de 12 megapíxeles de la cámara de un teléfono, p. ej., 4032x3024, es válida)."
    ),
}
