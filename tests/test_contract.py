"""The argument contract every entry point shares."""

import pytest

from fibtrigger.lambda_function.contract import (
    AnswerError,
    ArgumentError,
    answer_value,
    check_fib,
    load_answer,
    parse_fib_text,
)


class Sneaky(int):
    """An int whose __int__ disagrees with its value."""

    def __int__(self):
        return 10**6


def test_int_subclass_is_checked_and_returned_as_the_same_plain_int():
    assert check_fib(Sneaky(5), 312) == 5 and type(check_fib(Sneaky(5), 312)) is int
    with pytest.raises(ArgumentError, match="got 313"):
        check_fib(Sneaky(313), 312)


@pytest.mark.parametrize("text, expected", [("0", 0), (" 10 ", 10), ("+7", 7), ("312", 312)])
def test_parse_fib_text(text, expected):
    assert parse_fib_text(text, 312) == expected


@pytest.mark.parametrize("text", ["", "1.5", "1e3", "0x10", "١٢", "--1", "ten"])
def test_parse_fib_text_refuses_non_integers(text):
    with pytest.raises(ArgumentError, match="fib must be an integer between 0 and 312") as caught:
        parse_fib_text(text, 312)
    assert not caught.value.out_of_range


def test_out_of_range_is_flagged():
    with pytest.raises(ArgumentError) as caught:
        check_fib(313, 312)
    assert caught.value.out_of_range and str(caught.value) == "fib must be between 0 and 312, got 313"
    with pytest.raises(ArgumentError) as caught:
        check_fib(-1, 312)
    assert not caught.value.out_of_range


# ---- checking an answer, as fiblambda and the queue's workers do -----------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"fib": 10, "value": "55"},
        {"fib": 10.0, "value": "55", "number": 55},
        {"fib": 10, "value": "0055"},
    ],
)
def test_a_good_answer_gives_its_exact_value(answer):
    assert answer_value(answer, 10) == 55


@pytest.mark.parametrize(
    "answer",
    [
        ["55"],
        {"fib": 11, "value": "55"},
        {"fib": True, "value": "1"},
        {"fib": "10", "value": "55"},
        {"fib": 10, "value": 55},
        {"fib": 10, "value": ""},
        {"fib": 10, "value": "5" * 66},
        {"fib": 10, "value": "-55"},
        {"fib": 10, "value": "5.5"},
        {"fib": 10, "value": "\u0665\u0665"},
        {"fib": 10, "value": "55", "number": 54},
        {"errorType": "ArgumentError", "errorMessage": "bad"},
        {"fib": None, "value": "55"},
        {"value": "55"},
        {"fib": 10},
        {"fib": 10, "value": "55", "extra": 1},
        {"fib": 10, "value": "55", "number": True},
        {"fib": 10, "value": "55", "number": "55"},
        {"fib": 10, "value": "55", "number": None},
    ],
)
def test_a_malformed_answer_is_refused(answer):
    with pytest.raises(AnswerError):
        answer_value(answer, 10)


@pytest.mark.parametrize(
    "text",
    [
        '{"fib": 10, "value": "55", "value": "56"}',
        '{"fib": 11, "fib": 10, "value": "55"}',
        '{"fib": 10, "value": "55", "number": 55, "number": 55}',
    ],
)
def test_an_answer_with_a_repeated_key_is_refused(text):
    with pytest.raises(AnswerError, match="repeats a key"):
        answer_value(load_answer(text), 10)


def test_a_repeated_key_in_one_batch_item_refuses_that_item_alone():
    text = '{"results": [{"fib": 3, "value": "2"}, {"fib": 10, "value": "55", "value": "1"}]}'
    results = load_answer(text)["results"]
    assert answer_value(results[0], 3) == 2
    with pytest.raises(AnswerError):
        answer_value(results[1], 10)


@pytest.mark.parametrize("text", ['{"fib": NaN, "value": "55"}', '{"fib": 10, "value": "55", "number": Infinity}'])
def test_an_answer_with_nan_or_infinity_is_not_json(text):
    with pytest.raises(ValueError):
        load_answer(text)
