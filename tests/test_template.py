"""Template lines: one press office's header and footer do not make two incidents one story.

The texts are written for the project: two releases of a fictional police office about
different incidents, and a newspaper's report of the first incident.
"""

from __future__ import annotations

from datetime import datetime

from storylink.article import Article
from storylink.compare import Comparer
from storylink.template import template_lines, title_prefix, without_template

OFFICE = "https://www.presse-talstadt.example/polizei"
HEADER = "Polizeipräsidium Talstadt – Pressestelle\nPressemitteilung"
FOOTER = (
    "Rückfragen bitte an:\n"
    "Polizeipräsidium Talstadt, Pressestelle, Telefon: 0711 / 555-1200\n"
    "E-Mail: pressestelle.talstadt@polizei.example\n"
    "Twitter: https://twitter.com/PolizeiTalstadt Facebook: https://facebook.com/PolizeiTalstadt\n"
    "Pressemeldungen der Polizei Talstadt sind unter Nennung der Quelle "
    "zur Veröffentlichung frei.\n"
    "Original-Content von: Polizeipräsidium Talstadt, übermittelt durch news aktuell"
)
ACCIDENT = (
    "Talstadt-Oberau: Schwerer Verkehrsunfall auf der B 27 – zwei Verletzte\n"
    "Am Dienstagmorgen gegen 6:40 Uhr ist auf der Bundesstraße 27 zwischen Oberau und "
    "Wiesenfeld ein Kleintransporter frontal mit einem Linienbus zusammengestoßen.\n"
    "Der 43-jährige Fahrer des Transporters geriet nach ersten Erkenntnissen auf regennasser "
    "Fahrbahn in den Gegenverkehr.\n"
    "Er und eine 61-jährige Passagierin des Busses wurden schwer verletzt und mit einem "
    "Rettungshubschrauber in eine Klinik gebracht.\n"
    "Die B 27 blieb für die Unfallaufnahme bis 10:15 Uhr voll gesperrt; der Sachschaden wird "
    "auf rund 85.000 Euro geschätzt."
)
BURGLARY = (
    "Talstadt-Mitte: Einbruch in Juweliergeschäft in der Königsgasse – Zeugen gesucht\n"
    "In der Nacht auf Samstag sind bislang unbekannte Täter in ein Juweliergeschäft in der "
    "Königsgasse eingebrochen.\n"
    "Sie hebelten gegen 2:30 Uhr die Hintertür auf und entwendeten Uhren und Schmuck aus "
    "mehreren Vitrinen.\n"
    "Eine Anwohnerin hörte den Alarm und sah zwei dunkel gekleidete Personen in Richtung "
    "Stadtpark flüchten.\n"
    "Die Kriminalpolizei bittet Zeugen, sich unter der Rufnummer 0711 / 555-3300 zu melden."
)
NEWSPAPER = (
    "Auf der Bundesstraße 27 bei Oberau sind am Dienstagmorgen ein Kleintransporter und ein "
    "Linienbus frontal zusammengeprallt.\n"
    "Nach Angaben der Polizei kam der 43 Jahre alte Transporterfahrer kurz nach 6.40 Uhr auf "
    "der nassen Straße in den Gegenverkehr.\n"
    "Der Mann und eine 61-jährige Frau, die im Bus saß, erlitten schwere Verletzungen; ein "
    "Hubschrauber flog sie ins Krankenhaus.\n"
    "Die Strecke zwischen Oberau und Wiesenfeld war bis etwa 10.15 Uhr gesperrt, es entstand "
    "ein Schaden von etwa 85.000 Euro."
)


def release(title: str, body: str, day: int) -> Article:
    return Article(
        title=title,
        text=f"{HEADER}\n{body}\n{FOOTER}",
        url=f"{OFFICE}/{day}",
        language="de",
        published=datetime(2026, 3, day, 11, 0),
    )


ACCIDENT_RELEASE = release("Schwerer Verkehrsunfall auf der B 27", ACCIDENT, 10)
BURGLARY_RELEASE = release("Einbruch in Juweliergeschäft – Zeugen gesucht", BURGLARY, 14)
ACCIDENT_REPORT = Article(
    title="Frontalunfall bei Oberau: Transporter prallt gegen Linienbus",
    text=NEWSPAPER,
    url="https://www.talstaedter-anzeiger.example/region/unfall-b27",
    language="de",
    published=datetime(2026, 3, 10, 15, 30),
)


def test_template_lines_are_the_lines_one_source_repeats() -> None:
    lines = template_lines(ACCIDENT_RELEASE, BURGLARY_RELEASE)
    assert "pressemitteilung" in lines and len(lines) == 8  # header 2 + footer 6
    assert not any("b 27" in line or "juwelier" in line for line in lines)
    # two different outlets printing one line verbatim is copied reporting, not template
    assert not template_lines(ACCIDENT_RELEASE, ACCIDENT_REPORT)
    net = without_template(ACCIDENT_RELEASE, BURGLARY_RELEASE)
    assert net is not None
    assert net[0].text == ACCIDENT and net[1].text == BURGLARY
    assert title_prefix("POL-LIP: Detmold - Brand in Scheune", "POL-LIP: Detmold - Unfall") == 19
    assert title_prefix("Unfall auf der B 27", "Unfall in Oberau") == 0  # no separator
    # a copy from one source keeps its text: it is evidence, not template
    assert without_template(ACCIDENT_RELEASE, ACCIDENT_RELEASE) is None
    update = Article(
        title="Update: Schwerer Verkehrsunfall auf der B 27",
        text=f"{ACCIDENT}\nDer Transporterfahrer ist am Abend im Krankenhaus gestorben.",
        url=f"{OFFICE}/11",
    )
    assert without_template(ACCIDENT_RELEASE, update) is None


def test_one_office_template_does_not_make_two_incidents_one_story(comparer: Comparer) -> None:
    different = comparer.compare(ACCIDENT_RELEASE, BURGLARY_RELEASE)
    assert not different.same_story and different.overall >= 3.0
    # the shared header and footer are not shown as reporting both articles share
    shown = {s.a for s in different.explanation.aligned_sentences}
    assert not any("Talstadt" in text or "Rückfragen" in text for text in shown)
    assert not different.explanation.numbers  # the office's phone number is not shared news
    same = comparer.compare(ACCIDENT_RELEASE, ACCIDENT_REPORT)
    assert same.same_story and same.overall <= 2.0
    assert same.overall + 1.0 <= different.overall
