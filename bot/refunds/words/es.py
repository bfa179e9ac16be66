"""What Spanish-speaking buyers write: the words :mod:`bot.refunds.reading` looks for.

Written the way buyers type, with and without accents ("dólares", "dolares"), Spain's and Latin
America's words side by side.
"""

from __future__ import annotations

import re

from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.words import Numbers, Words, currency_pattern, money_in_passing, plain, with_plain

# "Sin devolverlo" names a return too: the no-return words are read first.
NO_RETURN = re.compile(
    r"\b(sin (tener que |necesidad de )?(devolver(lo|la|los|las)?|devoluci[oó]n|"
    r"enviar(lo|la)?|mandar(lo|la)?|regresar(lo|la)?)|"
    r"me (lo|la|los|las) quedo|qued[aá]rmel[oa]s?|quedarme con ([eé]l|ella|el producto|"
    r"el art[ií]culo|el paquete)|"
    r"no (quiero|necesito|tengo que|voy a) (devolver|enviar|mandar|regresar)(lo|la|los|las)?)",
    re.I,
)
METHODS = (
    (
        RefundMethod.RETURN_AND_REFUND,
        re.compile(
            # "devolver el dinero" is the refund itself, not sending the item back.
            r"\b(devolver(lo|la|los|las)\b|devolver\b(?! (el |mi |mis )?(dinero|plata|importe))|"
            r"devoluci[oó]n(?! (del|de mi|de) (dinero|plata|importe))|"
            r"(enviar|mandar|regresar)(lo|la|los|las)? de vuelta|regresar(lo|la|los|las)\b|"
            r"cambi(o|arlo|arla)\b)",
            re.I,
        ),
    ),
    (
        RefundMethod.IMMEDIATE,
        re.compile(
            r"\b(inmediat[oa](mente)?|al instante|ya mismo|en el acto|"
            r"cancel(ar|a|en|o|aci[oó]n)|anul(ar|a|en|aci[oó]n))\b",
            re.I,
        ),
    ),
)

AMOUNT_PHRASE = re.compile(
    r"\b(reembolso (total|completo|[ií]ntegro)|todo el (importe|dinero|monto|total)|"
    r"todo mi dinero|el total|la totalidad|la mitad)\b",
    re.I,
)
WHOLE = re.compile(
    r"\b(tod[oa]s?|total|completo|completa|[ií]ntegro|entero|entera|m[aá]ximo|100 ?%|"
    r"el resto|lo que queda|lo que falta|lo restante)\b",
    re.I,
)
HALF = re.compile(r"\b(la mitad|mitad|50 ?%)", re.I)
CURRENCIES: dict[str, str] = {
    word: code
    for spelled, code in {
        "€": "EUR",
        "euro": "EUR",
        "euros": "EUR",
        "eur": "EUR",
        "dólar": "$",
        "dólares": "$",
        "pavos": "EUR",
        "usd": "USD",
        "us$": "USD",
        "libra": "GBP",
        "libras": "GBP",
        "rublo": "RUB",
        "rublos": "RUB",
        "reales": "BRL",
        "r$": "BRL",
        "yuanes": "CNY",
        "yenes": "JPY",
    }.items()
    for word in (spelled, plain(spelled))
}

_UNITS = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
    "veinticinco veintiséis veintisiete veintiocho veintinueve"
).split()
_TENS = "treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_HUNDREDS = (
    "ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos "
    "ochocientos novecientos"
).split()
_VALUES = {
    **dict(zip(_UNITS, range(30), strict=True)),
    **{word: value * 10 for value, word in enumerate(_TENS, start=3)},
    **{word: value * 100 for value, word in enumerate(_HUNDREDS, start=1)},
    "cien": 100,
    "mil": 1000,
    "una": 1,
    "veintiún": 21,
}
NUMBERS = Numbers(
    values={w: v for word, v in _VALUES.items() for w in (word, plain(word))},
    multipliers={"mil": 1000},
    joiners=frozenset({"y", "con"}),
    cents=with_plain({"céntimo", "céntimos", "centavo", "centavos"}),
    money=with_plain({"euro", "euros", "dólar", "dólares", "pavos", "rublos", "libras", "pesos"}),
)

REASONS = (
    (
        ReasonCategory.WRONG_ITEM,
        re.compile(
            r"no es (lo|el|la) que (ped[ií]|compr[eé]|encargu[eé])|"
            r"(producto|art[ií]culo|talla|color|modelo|tama[ñn]o|pedido) (equivocad|incorrect|"
            r"err[oó]ne)[oa]|me (enviaron|mandaron|lleg[oó]|lleg[oó] un[oa]?) "
            r"(otr[oa]|un[oa] distint[oa]|un[oa] diferente)|en (lugar|vez) de|"
            r"equivocad[oa]s?\b",
            re.I,
        ),
    ),
    (
        ReasonCategory.DAMAGED,
        re.compile(
            r"\b(rot[oa]s?|da[ñn]ad[oa]s?|da[ñn]o|partid[oa]|aplastad[oa]|rayad[oa]|"
            r"golpead[oa]|abollad[oa]|agrietad[oa]|rajad[oa]|rasgad[oa]|quebrad[oa]|"
            r"derramad[oa]|se (rompi[oó]|quebr[oó]|parti[oó]))\b",
            re.I,
        ),
    ),
    (
        ReasonCategory.NOT_AS_DESCRIBED,
        re.compile(
            r"no (es|era|se parece|coincide|corresponde)( igual)? (a|con|como)( (en|a) )?"
            r"( ?l[ao]s? )?(foto|imagen|descripci[oó]n|anuncio|describ)|"
            r"como se describ|no coincide|no corresponde|diferente (a|de) (la|lo)|"
            r"falso|falsificad|imitaci[oó]n|r[ée]plica|m[aá]s (peque[ñn]o|grande|chico) que|"
            r"enga[ñn]os|descripci[oó]n",
            re.I,
        ),
    ),
    (
        ReasonCategory.QUALITY_PROBLEM,
        re.compile(
            r"calidad|defectuos|defecto|no funciona|dej[oó] de funcionar|no (enciende|prende|"
            r"carga|conecta|sirve)|mal hech|se (descose|despega|desarma|cae a pedazos)|"
            r"falla|averiad",
            re.I,
        ),
    ),
)
OTHER_CATEGORY = re.compile(r"\s*(otr[oa]s?|otr[oa] (motivo|raz[oó]n|cosa))\s*", re.I)
OTHER_REASONS = re.compile(
    r"\b(tarde|retras|demora|nunca (lleg|vino|se envi)|no (me )?(ha )?(llegado|lleg[oó])|"
    r"todav[ií]a no (llega|lleg[oó]|ha llegado)|a[uú]n no (llega|lleg[oó]|ha llegado)|"
    r"cambi[eé] de (opini[oó]n|idea)|ya no (lo |la )?(necesito|quiero)|no me (queda|sirve)|"
    r"me queda (peque[ñn]|grande|chic|apretad)|no me gust|por error|sin querer|duplicad)",
    re.I,
)
CLAUSES = re.compile(r"[.!?;¡¿\n]+|,\s+|\s+(?:pero|porque|ya que|pues)\s+", re.I)
ORDER_WORDS = re.compile(
    r"(\b(pedido|orden|compra|n[uú]mero)|n[º°o]\.?|#)\s*:?\s*(n[º°o]\.?\s*)?\d{12,19}\b|\d{12,19}",
    re.I,
)

CHANGE = {
    "refund_method": re.compile(r"\b(m[eé]todo|forma|tipo|modalidad|opci[oó]n)\b", re.I),
    "refund_amount": re.compile(r"\b(importe|cantidad|monto|suma|dinero|cu[aá]nto)\b", re.I),
    "refund_reason": re.compile(r"\b(motivo|raz[oó]n|descripci[oó]n|problema)\b", re.I),
    "order_id": re.compile(r"\b(pedido|orden|compra)\b", re.I),
}
CHANGE_REQUEST = re.compile(
    r"^\W*(por favor\W+)?(quiero |quisiera )?(cambi|modific|corrig|correg|edit|actualiz)", re.I
)
A_PERSON = re.compile(
    r"\b(una persona|persona real|humano|operador|operadora|agente|asesor|asesora|"
    r"alguien real|atenci[oó]n al cliente|servicio al cliente|soporte|"
    r"hablar con (alguien|una persona))\b",
    re.I,
)
AFFIRMATIVE = re.compile(
    r"^\W*(s[ií]|vale|ok(ey)?|claro|de acuerdo|perfecto|correcto|bien|dale|venga|exacto|"
    r"adelante|por favor|hazlo|es[ae]( mismo| misma| opci[oó]n)?|est[ea]( mismo| misma)?)\b",
    re.I,
)
ORDINALS = (
    re.compile(r"\b(primer[oa]?|1[ºª°o]|la de arriba)(?!\w)", re.I),
    re.compile(r"\b(segund[oa]|2[ºª°o]|la del medio|el del medio)(?!\w)", re.I),
    re.compile(r"\b(tercer[oa]?|3[ºª°o])(?!\w)", re.I),
)
LAST = re.compile(r"\b([uú]ltim[oa]|la de abajo)\b( opci[oó]n)?", re.I)
EXPLICIT_STOP = re.compile(
    r"^\W*(por favor\W+)?(para|parar|detente|basta|cancela|cancelar|olv[ií]dalo|d[eé]jalo|"
    r"no,? gracias|salir|ya no|d[eé]jalo as[ií])\W*(por favor)?\W*$",
    re.I,
)
CORRECTION = re.compile(
    r"\b(en realidad|mejor|que sean|perd[oó]n|quise decir|corrijo|me equivoqu[eé]|"
    r"en vez de eso|cambia(lo)? a)\b",
    re.I,
)
CORRECTED_NUMBER = re.compile(r"\b(sean|a|en|mejor) \d+([.,]\d{1,2})?\b", re.I)
REQUEST = re.compile(
    r"^\W*(hola\W+)?(buenas\W+)?(por favor\W+)?((yo )?(quiero|necesito|quisiera|solicito|pido|"
    r"me gustar[ií]a)( un| el| mi| la)?|reembolso (de|del|para)|devolver|devu[eé]lvanme)\b",
    re.I,
)
STATUS_QUESTION = re.compile(
    r"\b(estado|novedades|d[oó]nde|cu[aá]ndo|cu[aá]nto (tarda|falta)|c[oó]mo va)\b", re.I
)
LAST_ORDER = re.compile(
    r"\b(mi )?([uú]ltim[oa]|m[aá]s reciente) (pedido|compra|orden)\b|"
    r"\b(pedido|compra|orden) m[aá]s reciente\b",
    re.I,
)
SWITCH_ORDER = re.compile(
    r"\b(no,? espera|espera|en realidad|quise decir|me equivoqu[eé] de pedido|"
    r"(el )?otro pedido|en (lugar|vez) de|no es (ese|este) pedido|perd[oó]n)\b",
    re.I,
)
KEEP = re.compile(
    r"\b(no|nop|d[eé]jalo|mejor no|ahora no|olv[ií]dalo|no lo retires|no la retires)\b", re.I
)
WHY_NOT = re.compile(
    r"\bpor ?qu[eé] (no|ya no)\b|\bc[oó]mo (es )?que no\b|\bpor qu[eé] raz[oó]n no\b", re.I
)

POLICY_TOPICS = (
    (
        "return_shipping",
        re.compile(
            r"env[ií]o de (vuelta|devoluci[oó]n)|qui[eé]n paga|gastos de (env[ií]o|devoluci[oó]n)|"
            r"(costo|coste|precio) del env[ií]o|etiqueta de devoluci[oó]n|"
            r"(enviar|mandar)(lo|la)? de vuelta",
            re.I,
        ),
    ),
    (
        "compensation",
        re.compile(
            r"compensaci[oó]n|indemnizaci[oó]n|tarde|retras|nunca (lleg|se envi)|"
            r"no (se ha enviado|lo han enviado|lo enviaron)",
            re.I,
        ),
    ),
    (
        "deadlines",
        re.compile(
            r"cu[aá]nto tiempo|cu[aá]ntos d[ií]as|plazo|l[ií]mite|cu[aá]ndo (me|recib|lleg)|"
            r"d[ií]as|demasiado tarde|caduca|vence",
            re.I,
        ),
    ),
    ("partial", re.compile(r"parcial|una parte|parte del (dinero|importe)|solo parte", re.I)),
    (
        "no_return",
        re.compile(r"qued[aá]rmel[oa]|me (lo|la) quedo|sin devolver|sin devoluci[oó]n", re.I),
    ),
    (
        "immediate",
        re.compile(
            r"inmediat|al instante|antes de(l env[ií]o| que se env[ií]e)|"
            r"(todav[ií]a|a[uú]n) no (se ha )?enviado|cancel|anul",
            re.I,
        ),
    ),
)
MONEY_BACK = re.compile(r"\b(reembols|dinero|devoluci[oó]n|devolver|pagad|pagu[eé]|reintegr)", re.I)
ABOUT_REFUNDS = re.compile(
    r"\b(reembols|dinero|devol|pol[ií]tica|reglas?|garant[ií]a|protecci[oó]n|compensaci|"
    r"c[oó]mo funciona|qu[eé] pasa si|derechos|responsable|comisi[oó]n|vendedor|tienda|"
    r"paquete|env[ií]o|entrega|lleg|m[eé]todo|opci[oó]n|diferencia)",
    re.I,
)
SHOP_QUESTION = re.compile(
    r"\b(pagar (con|por|mediante|usando)|apple pay|google pay|paypal|tarjeta de (cr[eé]dito|"
    r"d[eé]bito|regalo)|cup[oó]n|c[oó]digo (de )?(descuento|promocional)|contrase[ñn]a|"
    r"iniciar sesi[oó]n|registrarme|bolet[ií]n|en stock|hay stock|gu[ií]a de tallas)\b",
    re.I,
)
REFUND_WORDS = re.compile(r"\b(reembols|devolver|devoluci[oó]n|mi dinero)", re.I)
REQUEST_LATER = re.compile(
    r"[,.;!]\s*(as[ií] que |y |pero )?(por favor )?((yo )?(quiero|necesito|quisiera) "
    r"(cancelar|anular|devolver|mi dinero|un reembolso|el reembolso|que me devuelvan)|"
    r"(por favor )?(devu[eé]lvanme|reemb[oó]lsenme))",
    re.I,
)
CAN_I = re.compile(r"\b(puedo|se puede|podr[ií]a|es posible)\b", re.I)
REFUND_ASKED = re.compile(r"\b(reembols|mi dinero|devoluci[oó]n del dinero|reintegr)", re.I)
ALREADY_REFUNDED = re.compile(
    r"\bya\b.*\b(reembols|devolv|devuelt)|\b(reembols|devuelt)\w*\b.*\b(antes|ya)\b", re.I
)

WORDS = Words(
    locale="es",
    no_return=NO_RETURN,
    methods=METHODS,
    amount_phrase=AMOUNT_PHRASE,
    whole=WHOLE,
    half=HALF,
    currencies=CURRENCIES,
    currency=currency_pattern(CURRENCIES),
    money_in_passing=money_in_passing(CURRENCIES),
    numbers=NUMBERS,
    reasons=REASONS,
    other_category=OTHER_CATEGORY,
    other_reasons=OTHER_REASONS,
    clauses=CLAUSES,
    order_words=ORDER_WORDS,
    change=CHANGE,
    change_request=CHANGE_REQUEST,
    a_person=A_PERSON,
    affirmative=AFFIRMATIVE,
    ordinals=ORDINALS,
    last=LAST,
    explicit_stop=EXPLICIT_STOP,
    correction=CORRECTION,
    corrected_number=CORRECTED_NUMBER,
    request=REQUEST,
    status_question=STATUS_QUESTION,
    last_order=LAST_ORDER,
    switch_order=SWITCH_ORDER,
    keep=KEEP,
    why_not=WHY_NOT,
    policy_topics=POLICY_TOPICS,
    money_back=MONEY_BACK,
    about_refunds=ABOUT_REFUNDS,
    shop_question=SHOP_QUESTION,
    refund_words=REFUND_WORDS,
    request_later=REQUEST_LATER,
    can_i=CAN_I,
    refund_asked=REFUND_ASKED,
    already_refunded=ALREADY_REFUNDED,
)
