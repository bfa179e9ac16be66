"""What English-speaking buyers write: the words :mod:`bot.refunds.reading` looks for."""

from __future__ import annotations

import re

from bot.refunds.enums import ReasonCategory, RefundMethod
from bot.refunds.words import Numbers, Words, currency_pattern

# Keeping the item is the more specific statement: "refund without returning it" mentions a
# return too, so the no-return words are read first.
NO_RETURN = re.compile(
    r"\b(no[ -]?return|without (a |any )?return|without (returning|sending|shipping|giving)|"
    r"keep (it|them|the|my)\b|"
    r"(don'?t|do not|won'?t|will not) (want to |need to |have to )?(return|send)|"
    r"no need to (return|send))",
    re.I,
)
METHODS = (
    (
        RefundMethod.RETURN_AND_REFUND,
        re.compile(
            r"\b(return|retrun|retun|send (it |them )?back|ship (it |them )?back|exchange)", re.I
        ),
    ),
    (
        RefundMethod.IMMEDIATE,
        re.compile(r"\b(im+[ei]di?a?te(ly)?|instant(ly)?|right away|cancel)", re.I),
    ),
)

AMOUNT_PHRASE = re.compile(
    r"\b(full refund|full amount|all (of )?(my|the) money|everything back|whole amount|"
    r"refund (it )?all|all of it|the whole (thing|amount)|half)\b",
    re.I,
)
#: Money said in passing, with its currency ("$20", "20 dollars", "12,50 €"). A bare number is
#: not (it may be a quantity).
AMOUNT_IN_PASSING = re.compile(
    r"(?<![\w.,])(?:(?:us)?[$€£]\s?\d+(?:[.,]\d{1,2})?|"
    r"\d+(?:[.,]\d{1,2})?\s?(?:dollars?|bucks|usd|eur(?:os?)?\b|€|£|\$))",
    re.I,
)
WHOLE = re.compile(
    r"\b(all|everything|full|entire|whole|total|complete|max(imum)?|all of it|100 ?%|"
    r"the rest|rest of it|remaining|remainder|whatever(\'s| is) left|what(\'s| is) left)\b",
    re.I,
)
HALF = re.compile(r"\b(half|50 ?%)\b", re.I)
CURRENCIES: dict[str, str] = {
    "usd": "USD",
    "us$": "USD",
    "dollar": "$",
    "dollars": "$",
    "bucks": "$",
    "buck": "$",
    "$": "$",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "€": "EUR",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "£": "GBP",
    "cad": "CAD",
    "aud": "AUD",
    "rub": "RUB",
    "rubles": "RUB",
    "₽": "RUB",
    "brl": "BRL",
    "r$": "BRL",
    "jpy": "JPY",
    "yen": "JPY",
    "cny": "CNY",
    "rmb": "CNY",
    "yuan": "CNY",
}
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBERS = Numbers(
    values={
        **{word: value for value, word in enumerate(_UNITS)},
        **{word: value * 10 for value, word in enumerate(_TENS, start=2)},
    },
    multipliers={"hundred": 100},
    joiners=frozenset({"and"}),
    cents=frozenset({"cent", "cents"}),
    money=frozenset(
        "dollar dollars buck bucks euro euros pound pounds usd eur gbp rub roubles rubles".split()
    ),
)

REASONS = (
    (
        ReasonCategory.WRONG_ITEM,
        re.compile(
            r"wrong (item|product|thing|one|model|colou?r|size)|not what i (ordered|bought)|"
            r"(sent|got|received) (me )?(a |the )?(different|another)|instead of",
            re.I,
        ),
    ),
    (
        ReasonCategory.DAMAGED,
        re.compile(
            r"\b(damaged?|broken|broke|cracked|crushed|smashed|shattered|dent(ed)?|torn|ripped|"
            r"leak(ed|ing)?|scratch(ed|es)?)\b",
            re.I,
        ),
    ),
    (
        ReasonCategory.NOT_AS_DESCRIBED,
        re.compile(
            r"not as described|doesn'?t match|does not match|different (from|than)|"
            r"not like (the )?(picture|photo|description)|fake|counterfeit|smaller than|"
            r"bigger than|misleading|description",
            re.I,
        ),
    ),
    (
        ReasonCategory.QUALITY_PROBLEM,
        re.compile(
            r"quality|defect(ive)?|faulty|(doesn'?t|does not|stopped|won'?t|not) work(ing|s)?|"
            r"malfunction|cheap|poorly made|falls? apart|fell apart|dead on arrival|won'?t turn on|"
            r"fray(s|ed|ing)?|peel(s|ed|ing)?|flicker(s|ed|ing)?|wobbl(e|es|y|ing)|"
            r"(doesn'?t|does not|won'?t|stopped|not) (charg|click|switch|turn|connect|hold)",
            re.I,
        ),
    ),
)
OTHER_CATEGORY = re.compile(r"\s*other( reason)?\s*", re.I)
OTHER_REASONS = re.compile(
    r"\b(late|delayed|never (arrived|came|shipped)|not (arrived|received|delivered)|"
    r"(hasn'?t|has not|didn'?t|did not|still not) (arrive|arrived|come|shipped|been delivered)|"
    r"changed? my mind|(don'?t|do not|no longer) (need|want)|"
    r"too (small|big|large|tight|long|short)|doesn'?t fit|does not fit|ordered by mistake|"
    r"by accident|duplicate)",
    re.I,
)
CLAUSES = re.compile(r"[.!?;\n]+|,\s+|\s+(?:but|because|since|as)\s+", re.I)
ORDER_WORDS = re.compile(r"\b(order|no\.?|number|#)\s*:?\s*\d{12,19}\b|\d{12,19}", re.I)

CHANGE = {
    "order_id": re.compile(r"\border\b", re.I),
    "refund_method": re.compile(r"\bmethod|\btype\b", re.I),
    "refund_amount": re.compile(r"\bamount|\bsum\b|how much|\bmoney\b", re.I),
    "refund_reason": re.compile(r"\breason|\bdescription|\bproblem", re.I),
}
CHANGE_REQUEST = re.compile(r"^\W*(please\W+)?(change|edit|fix|correct|update)\b", re.I)
A_PERSON = re.compile(
    r"\b(human|real person|a person|someone real|real agent|an agent|live agent|live chat|"
    r"support (team|agent|staff|person)|operator|representative|customer service|"
    r"talk to (someone|somebody|a person)|speak to (someone|somebody|a person))\b",
    re.I,
)
AFFIRMATIVE = re.compile(
    r"^\W*(y(es|ea|eah|ep|up)?|ok(ay)?|o\.k\.|sure|fine|right|alright|go( ahead)?|please|pls|"
    r"that( one)?|this( one)?|do it|sounds good|perfect|great|correct|that'?s (it|fine|right))\b",
    re.I,
)
ORDINALS = (
    re.compile(r"\b(first|1st|top)\b", re.I),
    re.compile(r"\b(second|2nd|middle)\b", re.I),
    re.compile(r"\b(third|3rd)\b", re.I),
)
LAST = re.compile(r"\b(last|bottom)\b( one| option)?", re.I)
EXPLICIT_STOP = re.compile(
    r"^\W*(please\W+)?(stop|cancel|quit|exit|abort|never ?mind|forget (it|about it)|no thanks?|"
    r"leave it|(stop|cancel) (it|this|that|the refund|the request|everything))\W*(please)?\W*$",
    re.I,
)
CORRECTION = re.compile(
    r"\b(actually|make it|change (it|the amount) to|instead|i meant|sorry|correction)\b", re.I
)
CORRECTED_NUMBER = re.compile(r"\b(it|to) \d+([.,]\d{1,2})?\b", re.I)
REQUEST = re.compile(
    r"^\W*(hi|hello|hey)?\W*(please\W+)?(i (want|need|would like|'d like)( a| my)?|"
    r"can i (get|have)( a| my)?|refund (for|on|of|me|order|my|the)|return)\b",
    re.I,
)
STATUS_QUESTION = re.compile(r"\b(status|news|update|where|when|how long)\b", re.I)
LAST_ORDER = re.compile(r"\b(last|latest|most recent|newest|recent) (order|purchase)\b", re.I)
SWITCH_ORDER = re.compile(
    r"\b(no wait|wait|actually|i meant|i mean|wrong order|the other (order|one)|instead|"
    r"not (that|this) (order|one)|sorry)\b",
    re.I,
)
KEEP = re.compile(r"\b(no|nope|nah|leave it|keep it|don'?t|not now|never ?mind)\b", re.I)
WHY_NOT = re.compile(
    r"\bwhy (can'?t|cannot|not|isn'?t|is it not|won'?t|am i not|don'?t)\b|\bhow come\b", re.I
)

POLICY_TOPICS = (
    (
        "return_shipping",
        re.compile(
            r"ship(ping)? (back|cost|fee)|who pays|postage|"
            r"return (label|shipping|postage)|send (it )?back",
            re.I,
        ),
    ),
    (
        "compensation",
        re.compile(
            r"compensat|late|never (arrived|shipped)|"
            r"didn'?t ship|not shipped|delay",
            re.I,
        ),
    ),
    (
        "deadlines",
        re.compile(
            r"how long|how many days|deadline|time limit|"
            r"when will|how soon|days|window|too late|expire",
            re.I,
        ),
    ),
    ("partial", re.compile(r"partial|part of|some of (the|my) money|only part", re.I)),
    ("no_return", re.compile(r"keep (it|the item)|no[- ]return|without return", re.I)),
    (
        "immediate",
        re.compile(
            r"immediate|instant|before (it )?ship|not shipped yet|"
            r"cancel",
            re.I,
        ),
    ),
)
MONEY_BACK = re.compile(r"\b(refund|money|return|paid|pay ?back|reimburs)", re.I)
ABOUT_REFUNDS = re.compile(
    r"\b(refund|money|return|reimburs|policy|policies|rules?|guarantee|warranty|protection|"
    r"buyer protection|compensat|how (does|do) (it|this|that|refunds?) work|what (happens|if)|"
    r"rights|responsible|restocking|fee|not as described|damaged|fake|seller|merchant|"
    r"package|parcel|ship|deliver|arriv|difference|method|option)",
    re.I,
)
SHOP_QUESTION = re.compile(
    r"\b(pay (with|by|using|via)|apple pay|google pay|paypal|klarna|credit card|debit card|"
    r"gift card|coupon|promo code|discount code|voucher|password|log ?in|sign ?up|newsletter|"
    r"in stock|size guide)\b",
    re.I,
)
REFUND_WORDS = re.compile(r"\b(refund|money back|reimburs|return)", re.I)
REQUEST_LATER = re.compile(
    r"[,.;!]\s*(so |and |but )?(please )?(i (want|need|would like|'d like)( to)? "
    r"(cancel|return|send it back|get my money|my money|a refund|refund|the money back)|"
    r"(please )?(refund me|give me my money back|cancel it and refund))\b",
    re.I,
)
CAN_I = re.compile(r"\bcan i\b", re.I)
REFUND_ASKED = re.compile(r"\b(refund|money back|reimburs)", re.I)
ALREADY_REFUNDED = re.compile(
    r"\b(already|so far|before|previous(ly)?|earlier)\b.*\brefund|\brefund(ed|s)?\b.*"
    r"\b(already|so far|before|earlier)\b",
    re.I,
)

WORDS = Words(
    locale="en",
    no_return=NO_RETURN,
    methods=METHODS,
    amount_phrase=AMOUNT_PHRASE,
    whole=WHOLE,
    half=HALF,
    currencies=CURRENCIES,
    currency=currency_pattern(CURRENCIES),
    money_in_passing=AMOUNT_IN_PASSING,
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
