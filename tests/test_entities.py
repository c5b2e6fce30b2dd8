from storylink.article import Article
from storylink.entities import default_gazetteer, profile, shared_names, skeleton
from storylink.language import with_language


def names(text_a: str, lang_a: str, text_b: str, lang_b: str) -> dict[str, set[str]]:
    a = profile(with_language(Article("", text_a, language=lang_a)))
    b = profile(with_language(Article("", text_b, language=lang_b)))
    found: dict[str, set[str]] = {}
    for name in shared_names(a, b):
        found.setdefault(name.kind, set()).add(name.label)
    return found


def test_skeletons_meet_across_scripts() -> None:
    assert skeleton("Vladimir Putin") == skeleton("فلاديمير بوتين") == skeleton("Владимир Путин")
    assert skeleton("Lavrov") == skeleton("لافروف")
    assert skeleton("Putin") != skeleton("Lavrov")


def test_gazetteer_knows_places_in_many_scripts() -> None:
    gazetteer = default_gazetteer()
    moscow = {
        gazetteer.lookup(name, cased=False) for name in ("موسكو", "Москва", "莫斯科", "Moscou")
    }
    assert {p.name for p in moscow if p} == {"Moscow"}
    assert gazetteer.lookup("وروسيا", cased=False).name == "Russia"  # type: ignore[union-attr]
    assert gazetteer.lookup("الإيرانية", cased=False).name == "Iran"  # type: ignore[union-attr]
    assert gazetteer.lookup("Iranian").name == "Iran"  # type: ignore[union-attr]
    assert gazetteer.lookup("الوقف", cased=False) is None  # "the ceasefire", also a small town


def test_people_and_places_matched_english_arabic() -> None:
    found = names(
        "Russian President Vladimir Putin met Foreign Minister Sergei Lavrov in Moscow on Monday.",
        "en",
        "التقى الرئيس الروسي فلاديمير بوتين وزير الخارجية سيرغي لافروف في موسكو يوم الاثنين.",
        "ar",
    )
    assert found["person"] >= {"Vladimir Putin", "Sergei Lavrov"}
    assert found["place"] >= {"Moscow", "Russia"}
    assert "Vladimir" not in found["place"]  # the city of Vladimir is part of a name here


def test_people_matched_english_russian_without_ner_model() -> None:
    found = names(
        "Turkish Interior Minister Kemal Arslan visited Izmir.",
        "en",
        "Министр внутренних дел Турции Кемаль Арслан посетил Измир.",
        "ru",
    )
    assert "Kemal Arslan" in found.get("person", set())
    assert "İzmir" in found["place"]


def test_unrelated_texts_share_nothing() -> None:
    found = names(
        "Chancellor Olaf Scholz opened a factory in Dresden.",
        "en",
        "افتتح وزير المياه المصري محطة في القاهرة.",
        "ar",
    )
    assert not found


def test_russian_case_endings_and_titles() -> None:
    found = names(
        "Floods hit Kazan and Moscow on Friday, President Vladimir Putin said, "
        "as Russia counted losses.",
        "en",
        "Президент Владимир Путин сообщил о наводнениях в Казани и Москве. России нужна помощь, "
        "сказал президент.",
        "ru",
    )
    assert {"Kazan", "Moscow", "Russia"} <= found["place"]
    assert found["person"] == {"Vladimir Putin"}


def test_lowercase_words_are_not_names() -> None:
    found = names(
        "Said Jalili arrived in Geneva.", "en", "The minister said the talks went well.", "en"
    )
    assert "Said Jalili" not in found.get("person", set()) and "Said" not in found.get(
        "person", set()
    )


def test_short_names_alone_across_scripts() -> None:
    found = names(
        "President Vladimir Putin and Foreign Minister Sergei Lavrov met President Hassan "
        "Rouhani on Monday. US President Joe Biden was not there.",
        "en",
        "التقى بوتين ولافروف مع روحاني، ولم يكن بايدن حاضرا.",
        "ar",
    )
    # labelled by the name that matched: the last name
    assert found["person"] >= {"Putin", "Lavrov", "Rouhani", "Biden"}
    unrelated = names("Putin spoke.", "en", "قال الباحث إن البطن مؤلم والبنت نائمة.", "ar")
    assert not unrelated  # three-consonant words (بطن, بنت) are not "Putin"


def test_a_country_is_not_a_common_word_because_of_a_longer_word() -> None:
    article = Article("", "Flights on Oman Air resumed. A woman was hurt.", language="en")
    assert "Oman" in {m.label for m in profile(article).mentions if m.kind == "place"}


def test_month_and_weekday_names_are_not_places() -> None:
    persian = Article("", "روز دوشنبه وزیران در قاهره دیدار کردند.", language="fa")
    places = {m.label for m in profile(persian).mentions if m.kind == "place"}
    assert "Dushanbe" not in places  # دوشنبه is Monday
    assert "Cairo" in places
    english = Article("", "The port reopened in March after talks in Marseille.", language="en")
    places = {m.label for m in profile(english).mentions if m.kind == "place"}
    assert "March" not in places and "Marseille" in places
