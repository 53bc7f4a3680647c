"""What the voice menu says, in words a text-to-speech voice reads well in English and Spanish:
amounts of money ("twelve dollars and fifty cents" / "doce dólares con cincuenta centavos"), dates
and times. Pure functions; the language is always passed in."""

import datetime

from django.utils import translation
from django.utils.formats import date_format

# The voice each language is read in (TwiML `language`).
VOICE_LANGUAGES = {"en": "en-US", "es": "es-MX"}

_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

_ES_ONES = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
]
_ES_TENS = ["_", "_", "veinte", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"]
_ES_HUNDREDS = [
    "_",
    "ciento",
    "doscientos",
    "trescientos",
    "cuatrocientos",
    "quinientos",
    "seiscientos",
    "setecientos",
    "ochocientos",
    "novecientos",
]


def _english(n: int) -> str:
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {_english(rest)}" if rest else "")
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            high, rest = divmod(n, size)
            return f"{_english(high)} {name}" + (f" {_english(rest)}" if rest else "")
    raise ValueError(n)


def _spanish(n: int) -> str:
    if n < 30:
        return _ES_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _ES_TENS[tens] + (f" y {_ES_ONES[ones]}" if ones else "")
    if n == 100:
        return "cien"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ES_HUNDREDS[hundreds] + (f" {_spanish(rest)}" if rest else "")
    if n < 10**6:
        high, rest = divmod(n, 1000)
        head = "mil" if high == 1 else f"{_spanish_before_noun(high)} mil"
        return head + (f" {_spanish(rest)}" if rest else "")
    high, rest = divmod(n, 10**6)
    head = "un millón" if high == 1 else f"{_spanish_before_noun(high)} millones"
    return head + (f" {_spanish(rest)}" if rest else "")


def _spanish_before_noun(n: int) -> str:
    """Spanish shortens a final "uno" before a masculine noun: "veintiún dólares", "un centavo"."""
    words = _spanish(n)
    if words.endswith("veintiuno"):
        return words[: -len("veintiuno")] + "veintiún"
    if words.endswith("uno"):
        return words[: -len("uno")] + "un"
    return words


def number_words(n: int, language: str) -> str:
    """A whole number in words: 21 -> "twenty-one" / "veintiuno"."""
    n = int(n)
    if n < 0:
        return ("minus " if language == "en" else "menos ") + number_words(-n, language)
    return _spanish(n) if language == "es" else _english(n)


def money_words(cents: int, language: str) -> str:
    """An amount as it is said: 1250 -> "twelve dollars and fifty cents" / "doce dólares con
    cincuenta centavos"; 100 -> "one dollar" / "un dólar"; 5 -> "five cents" / "cinco centavos".
    A negative amount is said as its size (the sentence around it says it is owed)."""
    dollars, rest = divmod(abs(int(cents)), 100)
    if language == "es":
        whole = f"{_spanish_before_noun(dollars)} {'dólar' if dollars == 1 else 'dólares'}"
        part = f"{_spanish_before_noun(rest)} {'centavo' if rest == 1 else 'centavos'}"
        joiner = " con "
    else:
        whole = f"{_english(dollars)} {'dollar' if dollars == 1 else 'dollars'}"
        part = f"{_english(rest)} {'cent' if rest == 1 else 'cents'}"
        joiner = " and "
    if rest and not dollars:
        return part
    return whole + (joiner + part if rest else "")


def date_words(moment: datetime.datetime | datetime.date, language: str) -> str:
    """ "March 3" / "3 de marzo" (month names from Django's catalogs)."""
    with translation.override(language):
        month = date_format(moment, "F")
    if language == "es":
        return f"{moment.day} de {month.lower()}"
    return f"{month} {moment.day}"


def time_words(moment: datetime.datetime | datetime.time, language: str) -> str:
    """ "2:15 PM" / "14:15"."""
    if language == "es":
        return f"{moment.hour}:{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
