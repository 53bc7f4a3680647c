"""Amounts, dates and times as the voice menu says them, in English and Spanish."""

import datetime

import pytest

from accounts.phone.speech import date_words, money_words, time_words


@pytest.mark.parametrize(
    ("cents", "english", "spanish"),
    [
        (1250, "twelve dollars and fifty cents", "doce dólares con cincuenta centavos"),
        (100, "one dollar", "un dólar"),
        (101, "one dollar and one cent", "un dólar con un centavo"),
        (5, "five cents", "cinco centavos"),
        (0, "zero dollars", "cero dólares"),
        (2100, "twenty-one dollars", "veintiún dólares"),
        (3121, "thirty-one dollars and twenty-one cents", "treinta y un dólares con veintiún centavos"),
        (10000, "one hundred dollars", "cien dólares"),
        (11500, "one hundred fifteen dollars", "ciento quince dólares"),
        (50000, "five hundred dollars", "quinientos dólares"),
        (
            123456,
            "one thousand two hundred thirty-four dollars and fifty-six cents",
            "mil doscientos treinta y cuatro dólares con cincuenta y seis centavos",
        ),
        (2100000, "twenty-one thousand dollars", "veintiún mil dólares"),
        (-67, "sixty-seven cents", "sesenta y siete centavos"),
    ],
)
def test_amounts_are_said_as_money(cents, english, spanish):
    assert money_words(cents, "en") == english
    assert money_words(cents, "es") == spanish


def test_dates_and_times():
    moment = datetime.datetime(2026, 11, 4, 14, 15)
    assert date_words(moment, "en") == "November 4"
    assert date_words(moment, "es") == "4 de noviembre"
    assert time_words(moment, "en") == "2:15 PM"
    assert time_words(moment, "es") == "14:15"
    assert time_words(datetime.time(0, 5), "en") == "12:05 AM"
