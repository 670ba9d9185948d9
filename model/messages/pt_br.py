"""Brazilian Portuguese ("você"): every id of ``model.messages.en``."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "quality.defocus_blur": (
        "Toque na lesão na tela para a câmera focar nela, segurando o celular a 10\u201315 cm de distância."
    ),
    "quality.motion_blur": "Apoie o cotovelo em uma mesa para manter o celular firme enquanto tira a foto.",
    "quality.underexposure": (
        "Vá para um lugar mais iluminado, com luz uniforme, por exemplo perto de uma janela durante o dia."
    ),
    "quality.overexposure": (
        "Tire a foto com luz suave e uniforme, longe do sol direto e com o flash desligado."
    ),
    "quality.glare": (
        "Incline um pouco o celular, com o flash desligado, para que nenhuma luz reflita na pele."
    ),
    "quality.noise": "Tire a foto com mais luz e sem usar o zoom.",
    "quality.jpeg_compression": (
        "Envie a foto original da câmera, não uma cópia salva de um aplicativo de mensagens."
    ),
    "quality.low_resolution": (
        "Envie a foto em tamanho original, da câmera principal do celular, não uma captura de tela, uma "
        "miniatura ou uma foto com zoom."
    ),
    "quality.colour_cast": (
        "Tire a foto com luz do dia ou luz branca, não sob lâmpadas coloridas ou amareladas."
    ),
    "quality.framing.move_closer": "Chegue mais perto até a lesão ocupar cerca de um terço da foto.",
    "quality.framing.centre": "Coloque a lesão no centro da foto, sem deixar nenhuma parte de fora.",
    "quality.obstruction": (
        "Afaste dedos, cabelo ou roupa para que a lesão inteira e a pele ao redor fiquem visíveis."
    ),
    "quality.no_skin": (
        "Aponte a câmera para a lesão de modo que a pele ao redor ocupe a maior parte da foto."
    ),
    "quality.not_skin": (
        "Envie uma foto da sua pele: uma imagem de perto e nítida da lesão, com um pouco de pele ao redor."
    ),
    "quality.unreadable": "Não conseguimos abrir esta foto: tire uma nova foto da lesão e envie novamente.",
    "advice.emergency": (
        "Procure atendimento de emergência presencial agora: vá a um pronto-socorro ou ligue para o número "
        "de emergência da sua região. Não espere pela avaliação online."
    ),
    "advice.urgent": (
        "Seu caso foi marcado como urgente e um dermatologista vai avaliá-lo o mais rápido possível. Se "
        "você piorar antes disso (febre, dor forte, vermelhidão que se espalha rápido, bolhas ou feridas "
        "na boca, nos olhos ou nos genitais), procure atendimento de emergência presencial sem esperar."
    ),
    "advice.in_person_likely": (
        "É provável que um dermatologista queira ver esta lesão pessoalmente; vamos informar como fazer "
        "isso depois da avaliação."
    ),
    "advice.retake_deadline_passed": (
        "Nenhuma foto nova chegou a tempo, então um dermatologista vai analisar seu caso agora com as fotos "
        "que você já enviou. Ele ainda pode pedir uma foto nova."
    ),
    "upload.empty_file": "Anexe a própria foto; o envio não continha dados.",
    "upload.photo_too_large": (
        "Envie um arquivo menor: escolha um tamanho ou uma qualidade de foto menor no celular, ou recorte "
        "a imagem na área afetada."
    ),
    "upload.unsupported_format": (
        "Envie a foto como arquivo JPEG, PNG, WebP ou HEIC/HEIF (os formatos das câmeras de celular)."
    ),
    "upload.corrupt_image": (
        "O arquivo está danificado ou foi cortado durante o envio: envie novamente a foto original do "
        "aparelho."
    ),
    "upload.photo_error": "Envie a foto novamente como arquivo JPEG, PNG, WebP ou HEIC.",
    "upload.too_many_pixels": (
        "Reduza a foto para no máximo {max_megapixels} megapixels e envie novamente (a foto comum de 12 "
        "megapixels da câmera de um celular, por exemplo 4032x3024, é aceita)."
    ),
}
