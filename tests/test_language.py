import pytest

from storylink.article import Article
from storylink.language import UNDETERMINED, detect_language, normalize_code, with_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The president spoke with his counterpart by telephone on Saturday.", "en"),
        ("تحدث الرئيس مع نظيره عبر الهاتف يوم السبت حول وقف إطلاق النار", "ar"),
        ("Президент провёл телефонный разговор со своим коллегой в субботу.", "ru"),
        ("总统周六与对方通电话，讨论了停火问题。", "zh"),
        ("הנשיא שוחח בטלפון עם עמיתו ביום שבת על הפסקת האש.", "he"),
        ("رئیس جمهور روز شنبه با همتای خود تلفنی گفتگو کرد و درباره آتش بس صحبت کرد.", "fa"),
        ("Ο πρόεδρος μίλησε τηλεφωνικά με τον ομόλογό του το Σάββατο.", "el"),
    ],
)
def test_detects_languages_in_many_scripts(text: str, code: str) -> None:
    detected, confidence = detect_language(text)
    assert detected == code
    assert confidence > 0.5


def test_no_letters_is_undetermined() -> None:
    assert detect_language("12345 67890 — 2026")[0] == UNDETERMINED


def test_declared_language_wins_and_is_normalised() -> None:
    article = Article(title="", text="The president spoke.", language="zh-CN")
    assert with_language(article).language == "zh"
    assert normalize_code("en_US") == "en" and normalize_code("iw") == "he"
    assert normalize_code("zh-Hant") == normalize_code("zh_HK") == "zh"


def test_more_than_the_first_line_decides() -> None:
    text = "12 345 678 910 2026 14:30 GMT 44 55\nThe president spoke with his counterpart by phone."
    assert detect_language(text)[0] == "en"
