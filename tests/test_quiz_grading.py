"""Reading and grading a member's answer (bot.quiz.grade): every accepted spelling of every
question type, and every wrong shape, which gets a hint instead of a grade."""

from __future__ import annotations

import pytest

from bot.quiz import WrongShape, grade, looks_like_answer
from bot.store.quiz import Accuracy, StoredQuestion


def question(qtype: str, answer: str, options: int = 4) -> StoredQuestion:
    opts = tuple(f"选项{i}" for i in range(1, options + 1)) if qtype != "judge" else ()
    return StoredQuestion(id="t1", position=1, type=qtype, stem="题干", options=opts,
                          answer=answer, explanation="解析", source="中国共产党纪律处分条例",
                          version="2023", article_no="第八条", active=True)


SINGLE = question("single", "C")
MULTIPLE = question("multiple", "AC", options=5)
JUDGE_TRUE = question("judge", "对")
JUDGE_FALSE = question("judge", "错")


@pytest.mark.parametrize("text", ["C", "c", "Ｃ", "ｃ", " C ", "C。", "选C", "我选 C", "答案是C",
                                  "答案：c", "C!"])
def test_single_right_in_every_spelling(text: str) -> None:
    assert grade(SINGLE, text).__dict__ == {"answer": "C", "correct": True}


@pytest.mark.parametrize("text, answer", [("A", "A"), ("b", "B"), ("Ｄ", "D")])
def test_single_wrong_is_graded_wrong(text: str, answer: str) -> None:
    graded = grade(SINGLE, text)
    assert (graded.answer, graded.correct) == (answer, False)


@pytest.mark.parametrize("text", ["AC", "CA", "ac", "ca", "Ac", "A C", "a c", "A,C", "A，C",
                                  "A、C", "ＡＣ", "Ａ、Ｃ", "A;C", "A和C", "选AC", "A C。",
                                  "A  ,  C", "AAC"])
def test_multiple_right_in_any_order_case_and_separator(text: str) -> None:
    assert grade(MULTIPLE, text).__dict__ == {"answer": "AC", "correct": True}


@pytest.mark.parametrize("text, answer", [("ACD", "ACD"), ("AB", "AB"), ("e a", "AE"),
                                          ("ABCDE", "ABCDE")])
def test_multiple_partial_or_extra_is_wrong(text: str, answer: str) -> None:
    graded = grade(MULTIPLE, text)
    assert (graded.answer, graded.correct) == (answer, False)


@pytest.mark.parametrize("text", ["对", "正确", "对的", "√", "✓", "✔", "T", "t", "Ｔ", "true",
                                  "TRUE", "对。", "答案是对"])
def test_judge_true_spellings(text: str) -> None:
    assert grade(JUDGE_TRUE, text).__dict__ == {"answer": "对", "correct": True}
    assert grade(JUDGE_FALSE, text).__dict__ == {"answer": "对", "correct": False}


@pytest.mark.parametrize("text", ["错", "错误", "错的", "×", "✗", "✘", "F", "f", "Ｆ", "false",
                                  "错！"])
def test_judge_false_spellings(text: str) -> None:
    assert grade(JUDGE_FALSE, text).__dict__ == {"answer": "错", "correct": True}
    assert grade(JUDGE_TRUE, text).__dict__ == {"answer": "错", "correct": False}


@pytest.mark.parametrize("q, text, hint", [
    (SINGLE, "AB", "单选题，只能选一个"),
    (SINGLE, "a c", "单选题，只能选一个"),
    (SINGLE, "E", "只有 A、B、C、D 4 个选项，没有 E"),
    (SINGLE, "对", "这是单选题，请回复一个选项字母"),
    (SINGLE, "F", "这是单选题"),
    (MULTIPLE, "A", "多选题，请选出全部正确选项（至少两个）"),
    (MULTIPLE, "错误", "这是多选题，请回复全部正确选项的字母"),
    (JUDGE_TRUE, "A", "这是判断题，请回复「对」或「错」"),
    (JUDGE_TRUE, "AC", "这是判断题"),
    (JUDGE_FALSE, "好的", "请回复「对」或「错」"),
    (SINGLE, "不知道", "请回复一个选项字母"),
    (MULTIPLE, "", "请回复全部正确选项的字母"),
])
def test_wrong_shapes_get_a_hint_not_a_grade(q: StoredQuestion, text: str, hint: str) -> None:
    with pytest.raises(WrongShape) as caught:
        grade(q, text)
    assert hint in str(caught.value)


def test_letters_beyond_a_short_question_are_refused() -> None:
    two = question("single", "B", options=2)
    with pytest.raises(WrongShape, match="只有 A、B 2 个选项，没有 C、D"):
        grade(two, "CD")


@pytest.mark.parametrize("text", ["A", "ac", "A、C", "ＡＣ", "对", "错误", "√", "×", "T", "f",
                                  "选B", "答案是 D"])
def test_answer_shapes_are_recognised(text: str) -> None:
    assert looks_like_answer(text)


@pytest.mark.parametrize("text", ["打卡", "我的", "好的", "对了，明天开会吗", "ABCDEF", "G", "X",
                                  "A1", "答题", "对不对", "谢谢", "", "AC 打卡"])
def test_other_messages_are_not_answers(text: str) -> None:
    assert not looks_like_answer(text)


@pytest.mark.parametrize("answered, correct, percent", [
    (0, 0, None), (1, 1, 100), (1, 0, 0), (3, 2, 67), (6, 5, 83), (12, 10, 83), (8, 1, 13),
    (200, 1, 1), (200, 199, 100),
])
def test_accuracy_percent_rounds_half_up(answered: int, correct: int, percent: int | None) -> None:
    assert Accuracy(answered, correct).percent == percent
