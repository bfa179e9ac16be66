"""What Russian-speaking buyers write: the words :mod:`bot.refunds.reading` looks for.

Word endings change with case and gender, so most patterns match a word's stem; "е" stands for
"ё" too (buyers rarely type it).
"""

from __future__ import annotations

import re

from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.words import Numbers, Words, currency_pattern, money_in_passing

# "Без возврата" names a return too: the no-return words are read first.
NO_RETURN = re.compile(
    r"(без (возврата|отправки|пересылки)|"
    r"оставл(ю|ю его|ю её|ю ее|ю их|ю товар)? ?себе|оставить (его |её |ее |их |товар )?себе|"
    r"не (хочу|буду|могу|нужно|надо) (ничего )?(возвращать|отправлять|отсылать|вернуть|"
    r"отправить)|не нужно (ничего )?(возвращать|отправлять))",
    re.I,
)
METHODS = (
    (
        RefundMethod.RETURN_AND_REFUND,
        re.compile(
            # "вернуть деньги", "возврат денег" is the refund itself, not the item going back.
            r"(\bверн(у|уть|ём|ем)\b(?! (мне |мои |все )?(деньг|средств|сумм|оплат))|"
            r"\bвозврат(ом)?\b(?! (мне |моих )?(денег|деньг|средств|оплат|суммы))|"
            r"\bотправ(лю|ить|ляю) (его |её |ее |товар |посылку )?(обратно|назад)|"
            r"\bобмен)",
            re.I,
        ),
    ),
    (
        RefundMethod.IMMEDIATE,
        re.compile(r"(\bотмен(ить|ите|а|у|яю|ю)|\bсразу\b|\bнемедленн|\bмоментальн)", re.I),
    ),
)

AMOUNT_PHRASE = re.compile(
    r"(полный возврат|полную сумму|всю сумму|все деньги|всё деньги|вернуть всё|вернуть все|"
    r"половину|половина)",
    re.I,
)
WHOLE = re.compile(
    r"(?<!\w)(вс[её]|всю( сумму)?|весь|полностью|целиком|полн(ую|ая|ый|ой)|максимум|"
    r"максимальн\w*|100 ?%|остаток|остальное|сколько (осталось|можно))(?!\w)",
    re.I,
)
HALF = re.compile(r"(половин\w*|пополам|50 ?%)", re.I)
CURRENCIES: dict[str, str] = {
    "₽": "RUB",
    "р": "RUB",
    "р.": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "рубль": "RUB",
    "рубля": "RUB",
    "рублей": "RUB",
    "рублях": "RUB",
    "rub": "RUB",
    "доллар": "$",
    "доллара": "$",
    "долларов": "$",
    "бакс": "$",
    "бакса": "$",
    "баксов": "$",
    "usd": "USD",
    "$": "$",
    "евро": "EUR",
    "€": "EUR",
    "eur": "EUR",
    "гривен": "UAH",
    "грн": "UAH",
    "тенге": "KZT",
}

_UNITS = (
    "ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать "
    "тринадцать четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать"
).split()
_TENS = "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()
_HUNDREDS = "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split()
NUMBERS = Numbers(
    values={
        **dict(zip(_UNITS, range(20), strict=True)),
        **{word: value * 10 for value, word in enumerate(_TENS, start=2)},
        **{word: value * 100 for value, word in enumerate(_HUNDREDS, start=1)},
        "одна": 1,
        "одну": 1,
        "две": 2,
        "тысяча": 1000,
    },
    multipliers={"тысяча": 1000, "тысячи": 1000, "тысяч": 1000, "тысячу": 1000},
    joiners=frozenset({"и"}),
    cents=frozenset({"копейка", "копейки", "копеек", "коп"}),
    money=frozenset(w for w in CURRENCIES if w.isalpha()),
)

REASONS = (
    (
        ReasonCategory.WRONG_ITEM,
        re.compile(
            r"не (тот|та|то|те|того) (товар|размер|цвет|модел|вещ|заказ)|"
            r"не то,? что (я )?(заказыва|заказа|покупа|купи)|"
            r"(прислали|пришел|пришёл|пришла|пришло|отправили) (мне )?(друг|не то|не тот|не ту)|"
            r"вместо|другой товар|другую модель|(размер|цвет|товар) перепутал|перепутали|"
            r"не тот\b",
            re.I,
        ),
    ),
    (
        ReasonCategory.DAMAGED,
        re.compile(
            r"(слома|разбит|разбил|поврежд|трещин|треснул|помят|порван|порвал|царапин|поцарап|"
            r"раздавлен|протек|расколол|сломан|битый|битым|бракованн?ой упаковк)",
            re.I,
        ),
    ),
    (
        ReasonCategory.NOT_AS_DESCRIBED,
        re.compile(
            r"не соответству|не как на (фото|картинк|сайт)|не такой,? как|не такая,? как|"
            r"не похож|отличается от|подделк|фейк|\bпаль\b|копия|меньше,? чем|больше,? чем|"
            r"обман|описани",
            re.I,
        ),
    ),
    (
        ReasonCategory.QUALITY_PROBLEM,
        re.compile(
            r"качеств|брак|дефект|не работает|перестал\w* работать|не включается|не заряжается|"
            r"не держит|не подключается|развалил|отклеил|облез|сломался через|неисправ",
            re.I,
        ),
    ),
)
OTHER_CATEGORY = re.compile(r"\s*(друго[ей]|друга[яю] причина|иное|прочее)\s*", re.I)
OTHER_REASONS = re.compile(
    r"(опозд|задерж|долго ид|так и не (пришел|пришёл|пришла|пришло|получил|доставили)|"
    r"не (пришел|пришёл|пришла|пришло|получил|доставлен|доставили)|"
    r"передумал|больше не нуж|уже не нуж|не нужен|не нужна|не нужно|не подош|не подход|"
    r"мал(о|а|ы)?\b|велик|маломер|большемер|не понравил|по ошибке|случайно|дубл)",
    re.I,
)
CLAUSES = re.compile(r"[.!?;\n]+|,\s+|\s+(?:но|потому что|так как|поскольку|ведь)\s+", re.I)
ORDER_WORDS = re.compile(r"(\b(заказ\w*|номер)|№|#)\s*:?\s*(№\s*)?\d{12,19}\b|\d{12,19}", re.I)

CHANGE = {
    "refund_method": re.compile(r"(способ|метод|\bтип\b|вариант)", re.I),
    "refund_amount": re.compile(r"(сумм|количеств|деньг|сколько)", re.I),
    "refund_reason": re.compile(r"(причин|описани|проблем)", re.I),
    "order_id": re.compile(r"(заказ)", re.I),
}
CHANGE_REQUEST = re.compile(
    r"^\W*(пожалуйста\W+)?(хочу |можно |надо |нужно )?(измен|помен|исправ|отредакт|сменить|смени)",
    re.I,
)
A_PERSON = re.compile(
    r"(оператор|живой человек|живого человека|человеком|с человеком|сотрудник|менеджер|"
    r"специалист|консультант|служб\w+ поддержки|поддержк|позовите|соедините)",
    re.I,
)
AFFIRMATIVE = re.compile(
    r"^\W*(да|ага|угу|ок|окей|хорошо|ладно|давай(те)?|конечно|верно|точно|именно|согласен|"
    r"согласна|пожалуйста|подходит|эт(от|у)( вариант)?)(?!\w)",
    re.I,
)
ORDINALS = (
    re.compile(r"(перв(ый|ая|ое|ую|ого|ой)|1-?(й|я|ый|ая)|верхн)", re.I),
    re.compile(r"(втор(ой|ая|ое|ую|ого)|2-?(й|я|ой|ая)|средн)", re.I),
    re.compile(r"(трет(ий|ья|ье|ью|ьего|ьей)|3-?(й|я|ий|ья))", re.I),
)
LAST = re.compile(r"(последн\w*|нижн\w*)( вариант)?", re.I)
EXPLICIT_STOP = re.compile(
    r"^\W*(пожалуйста\W+)?(стоп|хватит|отмена|отменить|отмени|забудь|забудьте|не надо|"
    r"нет,? спасибо|выход|выйти|прекрати|прекратите)\W*(пожалуйста)?\W*$",
    re.I,
)
CORRECTION = re.compile(
    r"(вернее|точнее|на самом деле|пусть будет|я имел в виду|я имела в виду|извините|"
    r"ошибся|ошиблась|поправка|лучше)",
    re.I,
)
CORRECTED_NUMBER = re.compile(r"(будет|на|лучше|точнее|вернее) \d+([.,]\d{1,2})?(?!\d)", re.I)
REQUEST = re.compile(
    r"^\W*(здравствуйте|привет|добрый день)?\W*(пожалуйста\W+)?(я )?(хочу|нужен|нужно|прошу|"
    r"можно|верните|оформите|оформить)",
    re.I,
)
STATUS_QUESTION = re.compile(r"(статус|новост|\bгде\b|когда|сколько ждать|как там)", re.I)
LAST_ORDER = re.compile(r"(последн\w*|недавн\w*|свеж\w*) (заказ|покупк)\w*", re.I)
SWITCH_ORDER = re.compile(
    r"(нет,? подожди|подождите|подожди|на самом деле|я имел в виду|я имела в виду|"
    r"не тот заказ|друго(й|го) заказ|вместо|извините|ошибся заказом|ошиблась заказом)",
    re.I,
)
KEEP = re.compile(r"(\bнет\b|не надо|не нужно|оставьте|оставь|не сейчас|передумал)", re.I)
WHY_NOT = re.compile(r"(почему (не|нельзя)|как так|с чего (это )?(вдруг )?нельзя)", re.I)

POLICY_TOPICS = (
    (
        "return_shipping",
        re.compile(
            r"кто (платит|оплачивает)|(стоимость|оплата|цена) (обратной )?(доставки|пересылки|"
            r"отправки)|обратн(ая|ую|ой) (доставк|пересылк|отправк)|отправить обратно",
            re.I,
        ),
    ),
    (
        "compensation",
        re.compile(r"компенсац|опозд|задерж|так и не (пришел|пришёл|отправ)|не отправили", re.I),
    ),
    (
        "deadlines",
        re.compile(
            r"сколько (дней|времени|ждать)|срок|когда (вернут|придут|получу)|дней|"
            r"слишком поздно|истек",
            re.I,
        ),
    ),
    ("partial", re.compile(r"частичн|часть (денег|суммы)|только часть", re.I)),
    ("no_return", re.compile(r"без возврата|оставить (его |товар )?себе|оставлю себе", re.I)),
    (
        "immediate",
        re.compile(r"сразу|немедленн|моментальн|до отправки|(ещ[её] )?не отправлен|отмен", re.I),
    ),
)
MONEY_BACK = re.compile(r"(возврат|деньг|денег|вернуть|верн(ут|ёте|ете)|оплатил|заплатил)", re.I)
ABOUT_REFUNDS = re.compile(
    r"(возврат|деньг|денег|правил|политик|гарант|защит|компенсац|как (это )?работает|"
    r"что (будет|если)|права|ответствен|комисси|продав|магазин|посылк|доставк|пришл|"
    r"способ|вариант|разниц)",
    re.I,
)
SHOP_QUESTION = re.compile(
    r"(оплатить (через|картой|с помощью)|apple pay|google pay|paypal|кредитн\w* карт|"
    r"подарочн\w* карт|купон|промокод|пароль|войти в (аккаунт|профиль)|регистрац|рассылк|"
    r"в наличии|таблиц\w* размеров)",
    re.I,
)
REFUND_WORDS = re.compile(r"(возврат|вернуть|верните|мои деньги)", re.I)
REQUEST_LATER = re.compile(
    r"[,.;!]\s*(так что |и |но )?(пожалуйста )?((я )?(хочу|прошу) "
    r"(отменить|вернуть|возврат|мои деньги)|(пожалуйста )?верните( мне)? деньги)",
    re.I,
)
CAN_I = re.compile(r"(можно( ли)?|могу ли|могу я|получится ли)", re.I)
REFUND_ASKED = re.compile(r"(возврат|деньги|денег|компенсац)", re.I)
ALREADY_REFUNDED = re.compile(r"уже\b.*(вернул|возвращ|возврат)|(вернул|возвращ)\w*\b.*уже", re.I)

WORDS = Words(
    locale="ru",
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
