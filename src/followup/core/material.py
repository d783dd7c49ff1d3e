"""What a follow-up may use from a meeting's description, and what must stay private.

The description holds the user's own notes (PLAYBOOK §2): judgements, negotiation floors,
off-the-record remarks, TODOs, or an external organiser's agenda. All of it is `private`: it
goes on the follow-up block and the contact card, never into an email. A draft may only use

- text the user marked **shareable** (the convention below), verbatim;
- **promises** read from the notes: an item to send, a person to introduce, a thing to do,
  reduced to the object alone ("the Kalman filter article", "Charles Martin");
- the **next step**: the purpose of the next meeting ("a demo", "the pilot scope").

The shareable convention (case-insensitive markers, English, German, Spanish, French):

1. A line that starts with ``>`` (as in a quoted email) is shareable. The ``>`` and one space
   after it are removed; consecutive ``>`` lines form one paragraph, a line of ``>`` alone
   ends a paragraph. A ``>`` followed (after spaces, if any) by a digit, ``=`` or a currency
   sign (``>50k``, ``> 40k``, ``>= 3 seats``) means "more than", and ``>>`` / ``><`` are
   arrows: those lines are *not* quotes.
2. A line ``Share: text`` (also ``Shareable:``, ``Teilen:``, ``Compartir:``, ``Partager:``,
   case-insensitive, optionally after a bullet) shares the text after the colon: that line
   only, because the next line of quick notes is as likely to be a private remark. A marker
   alone on its line (``Share:``) shares the lines below it, up to the next blank line.

Everything else is private. `shareable` keeps the user's wording (lines joined with "\\n",
paragraphs with a blank line).

The readers are deliberately conservative: a line marked off the record or confidential, a
question, a hedge ("maybe") or a negation yields nothing, and an item that still carries a
judgement, a figure with a currency, a score or a third person's pronoun is dropped. A missed
promise only costs a visible placeholder in the draft; a leaked judgement costs the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from followup.core.notes import user_notes

__all__ = ["Material", "Promise", "find_tags", "read_material"]


@dataclass(frozen=True, slots=True)
class Promise:
    """Something the user said they would do for the person.

    `item` is only the object: the thing to send ("the pricing deck"), the person to introduce
    ("Charles Martin"), or for "do" the action as the user wrote it ("check availability for
    May"). `source_line` is the private line it was read from: for the user's checklist on the
    follow-up block, never for the email.
    """

    kind: Literal["send", "intro", "do"]
    item: str
    source_line: str


@dataclass(frozen=True, slots=True)
class Material:
    """A meeting description split into what is private and what a draft may use."""

    private: str
    shareable: str
    promises: tuple[Promise, ...]
    next_step: str | None
    tags: frozenset[str]
    addresses: tuple[str, ...]


def _words(text: str) -> frozenset[str]:
    """A set from a whitespace-separated word list (long lists read better as text)."""
    return frozenset(text.split())


def _alternation(text: str) -> str:
    """A regex alternation from phrases separated by "|" across lines (spaces kept)."""
    phrases = [p.strip() for p in text.replace("\n", "|").split("|")]
    return "|".join(p for p in phrases if p)


# =============================================================================================
# Shared tables: what cuts an item short, what makes it unusable (all languages at once: an
# English cue inside German notes still means the same thing, and cutting only ever shortens).
# =============================================================================================

_A = "['’]"  # apostrophes as typed on phones and desktops

# An aside or a judgement starts here; the item is what comes before.
_CUT = re.compile(
    r"\s+[-–—]+\s+|\s*[(\[{;:!?,|]|\s+<>|\s+\+\s+|https?://|www\.|"
    # A full stop ends the item, except after a title or an initial ("Dr. Martin", "J. Lee").
    r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bSt)(?<!\bProf)(?<!\b[A-Z])\.(?:\s|$)|"
    r"\s+(?:"
    + _alternation("""
        but|because|if|since|as|so|though|although|unless|once|when|after|before|then|which|
        who|whom|whose|that|while|where|incl|including|re|cause|cuz|bc|btw|fyi|also|pls|please|
        aber|weil|wenn|falls|ob|denn|sondern|dann|nachdem|bevor|sobald|damit|obwohl|dass|
        pero|porque|aunque|cuando|luego|después|antes|mientras|pues|ya que|si|que|
        mais|parce que|car|quand|puis|lorsque|après|avant|pendant|puisque|bien que|qui
    """)
    + r")(?:\s+|$)",
    re.IGNORECASE,
)
# "send the deck and ask about budget": an "and" followed by a lower-case word that is not a
# determiner starts a new action.
_CUT_AND = re.compile(
    r"\s+(?:and|&|und|y|et|e)\s+(?!(?:the|a|an|our|my|der|die|das|den|dem|ein|eine|einen|"
    r"el|la|los|las|un|una|le|les|une|des|l['’])\b)(?=[a-zà-ÿß])"
)

_WEEKDAYS = _alternation("""
    monday|tuesday|wednesday|thursday|friday|saturday|sunday|tue|tues|wed|thu|thurs|fri|
    montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|
    lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo|
    lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche
""")
_MONTHS = _alternation("""
    january|february|march|april|may|june|july|august|september|october|november|december|
    jan|feb|apr|jun|jul|aug|sept|oct|nov|dec|
    januar|februar|märz|mai|juni|juli|oktober|dezember|
    enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|
    janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre
""")
# Time phrases at either end of an item ("the deck by Friday", "morgen die Folien").
_TIME = (
    r"(?:(?:by|on|in|for|before|until|till|first\s+thing|early|"
    r"bis|am|im|ab|vor|spätestens|para\s+el|en|el|antes\s+del?|hasta\s+el|"
    r"d['’]ici|avant|pour|jusqu['’]à|le)\s+)?"
    r"(?:(?:next|this|nächste[nrs]?|diese[nrs]?|kommende[nrs]?|próximo|este|ce)\s+)?"
    r"(?:"
    + _alternation("""
        tomorrow|today|tonight|asap|a\\.s\\.a\\.p\\.|eod|eow|cob|later|soon|right away|
        this week|next week|this month|next month|end of (?:the )?(?:day|week|month)|
        in (?:a|one|two|three|\\d+) (?:days?|weeks?)|first thing|
        morgen|heute|übermorgen|gleich|zeitnah|bald|diese woche|nächste woche|
        ende der woche|kommende woche|
        mañana|hoy|pronto|esta semana|la (?:próxima|proxima) semana|la semana que viene|
        demain|aujourd['’]hui|cette semaine|la semaine prochaine|bientôt|rapidement|
        prochainement
    """)
    + r"|(?:"
    + _WEEKDAYS
    + r")(?:\s+(?:prochain|que viene|next))?"
    r"|\d{1,2}(?:st|nd|rd|th|\.)(?:\s+(?:" + _MONTHS + r"))?|\d{1,2}\s+(?:" + _MONTHS + r")"
    r"|(?:" + _MONTHS + r")(?:\s+\d{1,2}(?:st|nd|rd|th)?)?"
    r"|\d{1,2}[./]\d{1,2}\.?(?:\d{2,4})?"
    r")(?:\s+(?:morning|afternoon|evening|night|früh|vormittag|nachmittag|abend|"
    r"por la mañana|por la tarde|matin|après-midi|soir))?"
)
_TIME_TAIL = re.compile(r"\s+" + _TIME + r"\s*$", re.IGNORECASE)
_TIME_HEAD = re.compile(r"^" + _TIME + r"\s+", re.IGNORECASE)
# Small words that carry nothing at either end ("send over the deck", "das Deck noch").
_FILLER_HEAD = re.compile(
    r"^(?:over|along|across|out|back|also|then|quickly|again|quick|still|finally|"
    r"noch|auch|mal|nochmal|schnell|rüber|gern|gerne|también|rápido|aussi|également|vite)\s+",
    re.IGNORECASE,
)
_FILLER_TAIL = re.compile(
    r"\s+(?:over|along|across|out|back|too|also|as well|again|anyway|anyways|still|asap|"
    r"noch|auch|mal|nochmal|gleich|rüber|zu|gern|gerne|también|luego|aussi|également|"
    r"quand même)\s*$",
    re.IGNORECASE,
)

# Words that make a line or an item a judgement, a secret or a figure: never in an email.
_JUDGEMENT = re.compile(
    r"(?<![\w-])(?:"
    + _alternation("""
        don['’]?t|do not|won['’]?t|will not|not|never|no|nope|
        lean|leans|leaning|seem|seems|seemed|seeming|bored|boring|hire|hiring|no-hire|
        floor|ceiling|walk-?away|walk away|batna|hate|hates|hated|dislike|dislikes|sucks|
        terrible|awful|bad|crap|useless|stupid|dumb|lame|worst|
        off the record|off-the-record|otr|confidential|
        confidentially|internal|internally|private|privately|secret|secretly|between us|
        gut|vibe|vibes|red flag|weak|arrogant|rude|pushy|desperate|annoying|meh|lol|ugh|hmm|
        liked|loved|disliked|think|thought|feel|feels|felt|maybe|probably|perhaps|
        unsure|doubt|doubts|skeptical|sceptical|worried|concern|concerned|risky|impression|
        exclusivity|exclusive|discount|margin|margins|commission|funding|raising|raise|
        valuation|runway|burn|series [a-f]|salary|budget|layoff|layoffs|fired|competitor|
        competitors|poach|clueless|idiot|stalling|cheap|expensive|overpriced|
        nicht|nie|niemals|kein|keine|keinen|keinem|keiner|vertraulich|intern|interne|
        internen|interner|internes|privat|geheim|unter uns|wirkt|wirkte|scheint|schien|
        gelangweilt|langweilig|schwach|unsicher|vielleicht|eventuell|evtl|glaube|denke|
        eindruck|bauchgefühl|untergrenze|schmerzgrenze|rabatt|finanzierung|bewertung|gehalt|
        nunca|jamás|confidencial|interno|interna|privado|privada|secreto|entre nosotros|
        parece|parecía|parecia|aburrido|aburrida|débil|quizás|quizá|tal vez|creo|impresión|
        descuento|financiación|valoración|salario|presupuesto|
        ne|pas|jamais|confidentiel|confidentielle|privé|privée|entre nous|semble|semblait|
        ennuyé|ennuyée|faible|peut-être|je pense|crois|remise|financement|
        valorisation|salaire|plancher|
        upsell|churn|lawsuit|litigation|acquisition|acquire|merger|problem|problems|issue|
        issues|struggling|broke|cash|debt|bankrupt|bankruptcy|weakness|weaknesses|underpaid|
        overpaid|rejected|rejection|mess|jerk|firing|fire|quit|quitting|leaving|divorce|sick|
        pregnant|health|therapy|close the deal|closing|negotiate|negotiation|leverage|
        übernahme|fusion|klage|rechtsstreit|kündigung|gekündigt|entlassung|entlassungen|
        problem|probleme|schulden|pleite|insolvenz|
        adquisición|fusión|demanda|despido|despidos|problema|problemas|deuda|quiebra|
        rachat|procès|licenciement|licenciements|problème|problèmes|dette|faillite
    """)
    + r")(?![\w-])"
    r"|n['’]\w"  # French elided negation
    r"|[$€£¥₹]\s*\d|\d[\d.,]*\s*(?:k|m|mm|bn|mn|mio|mrd|tsd|€|\$|£|eur|euro|euros|usd|gbp|"
    r"chf|dollars?)(?![\w])"
    r"|\d+(?:[.,]\d+)?\s*/\s*10(?!\d)|\d\s*%|!!",
    re.IGNORECASE,
)
# A line carrying one of these is off limits as a whole, promise or not.
_CONFIDENTIAL = re.compile(
    r"(?<![\w-])(?:"
    + _alternation("""
        off the record|off-the-record|otr|confidential|confidentially|in confidence|
        between us|under nda|do not share|don['’]t share|not for sharing|internal only|
        private:|vertraulich|unter uns|nicht weitergeben|nur intern|confidencial|
        entre nosotros|no compartir|confidentiel|confidentielle|entre nous|ne pas partager
    """)
    + r")",
    re.IGNORECASE,
)
# A clause with these is a thought, not a commitment.
_HEDGE = re.compile(
    r"(?<![\w-])(?:"
    + _alternation("""
        maybe|perhaps|probably|possibly|might|not sure|unsure|if time|should we|
        vielleicht|eventuell|evtl|wahrscheinlich|möglicherweise|
        quizás|quizá|tal vez|a lo mejor|probablemente|
        peut-être|probablement|éventuellement
    """)
    + r")(?![\w-])",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"(?<![\w-])(?:don['’]?t|do not|won['’]?t|will not|not|never|no|nicht|nie|niemals|"
    r"kein\w*|nunca|jamás|ne|pas|jamais)(?![\w-])|n['’]\w",
    re.IGNORECASE,
)
# Pronouns of a third person: an item with one would speak about someone in the email.
_THIRD_PERSON = re.compile(
    r"(?<![\w-])(?:he|she|they|him|her|them|his|hers|their|theirs|"
    r"er|sie|ihm|ihn|ihr|ihre|ihren|ihrem|ihrer|ihnen|sein|seine|seinen|seinem|seiner|"
    r"él|ella|ellos|ellas|su|sus|"
    r"il|elle|ils|elles|lui|leur|leurs|eux|son|sa|ses)(?![\w-])",
    re.IGNORECASE,
)
# ... and of the user: "send me the deck" is their promise, not ours.
_FIRST_PERSON = re.compile(
    r"(?<![\w-])(?:(?i:me|mir|mich|uns|moi|nous)|us|Us)(?![\w-])"  # "US market" is no one
)
# Verbs of a sentence, not an object: "share price is up", "email is best".
_COPULA = re.compile(
    r"(?<![\w-])(?:is|are|was|were|be|been|has|had|ist|sind|war|waren|hat|es|fue|está|"
    r"están|tiene|est|sont|était|ont)(?![\w-])",
    re.IGNORECASE,
)
_BAD_START = _words("""
    about re regarding on by to with for from at in of into
    über von mit zu für an bei nach auf
    por para de en con sobre
    par pour avec sur chez dans
""")
_DETERMINERS = _words("""
    the a an our my this that these those some your
    der die das den dem des ein eine einen einem einer eines mein meine meinen meinem unser
    unsere unseren unserem ihr
    el la los las un una unos unas mi mis nuestro nuestra nuestros nuestras este esta ese esa
    le les une des mon ma mes notre nos ce cet cette ces
""")
_PRONOUN_ONLY = _words("""
    it this that them those these something stuff things one
    es das sie etwas lo la eso algo ça cela le quelque chose
""")
# Things one sends. A bare noun phrase after "Promised:" must name one of them.
_SENDABLE = _words("""
    article articles paper papers whitepaper deck decks slides slide link links doc docs
    document documents sheet spreadsheet report study guide notes recording video videos book
    export exports csv faq faqs dashboard numbers
    books proposal template checklist list sample samples repo repository code snippet script
    benchmark benchmarks data dataset results specs spec overview summary one-pager brochure
    nda contract agreement draft photo photos picture pictures logo logos screenshot
    screenshots presentation
    invite invitation info details contact contacts recipe podcast episode talk post blog
    newsletter research playbook framework examples example access login quote quotes memo
    writeup write-up agenda pdf file files figures numbers case feedback recommendation
    recommendations reference references resources resource material materials course
    folien präsentation dokument unterlagen bericht studie leitfaden notizen aufzeichnung
    buch angebot vorlage checkliste liste beispiel beispiele daten ergebnisse übersicht
    zusammenfassung infos informationen kontakt einladung zugang broschüre artikel
    artículo informe presentación enlace documento documentos estudio guía notas grabación
    vídeo libro propuesta plantilla ejemplo código datos resultados resumen contacto
    invitación acceso
    présentation lien étude rapport enregistrement vidéo livre proposition modèle liste
    exemple données résultats résumé accès plaquette fiche devis
""")
# Purposes of a next meeting. "next step:" must name one; "wants ..." must start with one.
_EVENTS_EN = _words("""
    demo pilot trial poc workshop call meeting walkthrough walk-through deep-dive dive
    presentation visit tour coffee lunch dinner chat session kickoff kick-off review interview
    test sync follow-up conversation discussion brainstorm hackathon offsite assessment audit
    evaluation
""")
_PURPOSES_EN = _EVENTS_EN | _words("""
    scope scoping pricing proposal contract timeline integration roadmap requirements
    onboarding rollout training partnership collaboration plan planning proof concept
    use-case setup migration deployment architecture security compliance api licensing
    implementation renewal sso
""")
_EVENTS_DE = _words("""
    demo pilot pilotprojekt pilotphase workshop termin call gespräch treffen präsentation
    test testphase probelauf besuch rundgang kaffee mittagessen abendessen vorführung
""")
_PURPOSES_DE = _EVENTS_DE | _words("""
    umfang pilot-umfang preise preisgestaltung angebot zeitplan integration roadmap
    anforderungen onboarding einführung schulung partnerschaft zusammenarbeit
""")
_EVENTS_ES = _words("""
    demo demostración piloto prueba taller llamada reunión presentación visita café
    almuerzo comida cena
""")
_PURPOSES_ES = _EVENTS_ES | _words("""
    alcance precios propuesta calendario integración requisitos formación colaboración
""")
_EVENTS_FR = _words("""
    démo demo démonstration pilote essai test atelier appel réunion rendez-vous
    présentation visite café déjeuner dîner
""")
_PURPOSES_FR = _EVENTS_FR | _words("""
    périmètre tarifs tarification proposition calendrier intégration exigences formation
    partenariat collaboration
""")
_PURPOSES = _PURPOSES_EN | _PURPOSES_DE | _PURPOSES_ES | _PURPOSES_FR
_EVENTS = _EVENTS_EN | _EVENTS_DE | _EVENTS_ES | _EVENTS_FR

# "the guide to Kalman filters": a "to" after these nouns is part of the item.
_TO_KEEPS = _words("guide introduction intro primer path road answer response reply key access")
# Lower-case words allowed inside a person's name.
_NAME_PARTICLES = _words(
    "de da das do dos del della der den van von zu di du le la al bin ibn ten ter y e and und et"
)
_ORG_LINKS = _words("at from of bei von de chez en")
_SOMEONE = _words("someone somebody jemand jemanden jemandem alguien quelqu'un quelqu’un")
_OWN = _words(
    "our my unser unsere unseren unserem unserer mein meine meinen meinem nuestro nuestra mi "
    "notre mon ma"
)

# Line furniture: bullets, checkboxes, arrows, numbering.
_BULLET = re.compile(r"^(?:(?:-+>|=>|[-*•·→➔▪◦])\s*|\[[ xX✓✔]?\]\s*|[☐☑✓✔]\s*|\d{1,2}[.)]\s+)+")
_HASHTAG = re.compile(r"(?<![\w#&])#[\w-]+")
_TODO = re.compile(
    r"^(?:"
    + _alternation("""
        don['’]t forget|do not forget|remember to|nicht vergessen|no olvidar|ne pas oublier|
        todo|to-do|to do|action item|action|ai|a\\.i\\.|f/u|me|ich|yo|moi|aufgabe|
        pendiente|tarea|à faire|a faire
    """)
    + r")(?:\s*[:\-–]\s*|\s+(?=\w))",
    re.IGNORECASE,
)

# "Next steps: send the proposal" is a promise under a next-step heading.
_NEXT_PREFIX = re.compile(
    r"^(?:next\s+steps?|next|ns|nächste[rn]?\s+schritte?|pr[oó]ximos?\s+pasos?|"
    r"siguientes?\s+pasos?|prochaines?\s+[ée]tapes?|[ée]tape\s+suivante)\s*[:\-–]\s*",
    re.IGNORECASE,
)

# =============================================================================================
# Per-language tables: how each language says "I'll send", "I'll introduce", "wants a demo".
# =============================================================================================


@dataclass(frozen=True, slots=True)
class _Language:
    code: str
    # An explicit promise ("Promised:", "Versprochen:", "Prometí", "Promis :"): its text may be
    # a bare item to send or an action ("do").
    promised: re.Pattern[str]
    # Each has a group "rest": the object, possibly with the recipient in front.
    send: tuple[re.Pattern[str], ...]
    # Each has a group "who" (or "a" and "b" for "Bob <> Carla").
    intro: tuple[re.Pattern[str], ...]
    # Pronouns for the recipient right after the verb ("send her the deck").
    lead_pronouns: re.Pattern[str]
    # Prepositions before a trailing recipient ("the deck to Jane").
    trail_preps: frozenset[str]
    # An action the user promised to do, as written after the marker.
    do_verb: re.Pattern[str]
    # "wants ..." / "möchte ...": group "rest" must start with an event ("a demo").
    wants: tuple[re.Pattern[str], ...]
    # "follow-up call about ...": group "rest" is the topic.
    topic: tuple[re.Pattern[str], ...]
    # "next step: ...": group "rest" is free text naming a purpose.
    next_marker: re.Pattern[str]
    events: frozenset[str]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_EN_MODAL = (
    r"(?:(?:i|we)\s*(?:['’]ll|['’]d|['’]m\s+going\s+to|['’]re\s+going\s+to|\s+will|\s+shall|"
    r"\s+would|\s+can|\s+am\s+going\s+to|\s+are\s+going\s+to|\s+need\s+to|\s+have\s+to|"
    r"\s+must|\s+should|\s+want\s+to|\s+offered\s+to|\s+promised(?:\s+\w+)?\s+to)|"
    r"will|gonna|going\s+to|need\s+to|have\s+to|must|to)"
)
_EN_SUBJECT_MODAL = (
    r"\b(?:i|we)\s*(?:['’]ll|['’]d|\s+will|\s+would|\s+can|['’]m\s+going\s+to|"
    r"\s+am\s+going\s+to|\s+promised(?:\s+\w+)?\s+to|\s+offered\s+to|\s+agreed\s+to)"
)
_EN_SEND = r"(?:send|e-?mail|mail|forward|share|shoot|pass\s+(?:on|along))"
_EN_INTRO_TARGET = r"(?:(?:her|him|them|you)\s+)?"

ENGLISH = _Language(
    code="en",
    promised=_rx(
        # A recipient's name is capitalised and followed by the item's article: "Promised Jane
        # the deck", not "Promised Kalman filter article".
        r"^(?:i\s+)?(?:promised|promise)(?:\s+(?:her|him|them|you|"
        r"(?-i:[A-Z][\w'’.-]*)(?=\s+(?:the|a|an|our|my|some|this|that)\s)))?"
        r"(?:\s*[:\-–]\s*|\s+to\s+|\s+)"
        r"|^(?:i\s+)?owe\s+(?:her|him|them|you|(?-i:[A-Z][\w'’.-]*))\s+"
        r"|^(?:i\s+)?offered\s+to\s+"
    ),
    send=(
        _rx(rf"^(?:{_EN_MODAL}\s+)?(?:also\s+|then\s+|quickly\s+)?{_EN_SEND}\s+(?P<rest>.+)"),
        _rx(rf"{_EN_SUBJECT_MODAL}\s+(?:also\s+)?{_EN_SEND}\s+(?P<rest>.+)"),
        _rx(rf"\b(?:asked|wants|wanted)\s+(?:me|us)\s+to\s+{_EN_SEND}\s+(?P<rest>.+)"),
    ),
    intro=(
        # Not "the introduction to Kalman filters" (a text, not a person).
        _rx(
            r"(?<!the )\b(?:intro|introduce|introduction)\s+"
            rf"{_EN_INTRO_TARGET}to\s+(?P<who>.+)"
        ),
        re.compile(
            r"\b(?i:intro|introduce)\s+[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?\s+(?i:to)\s+(?P<who>.+)"
        ),
        re.compile(
            r"\b(?i:intro)\s+(?P<a>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?)\s*"
            r"(?:<>|<->|<=>|↔|⇄|⟷)\s*(?P<b>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?)"
        ),
        _rx(r"\bconnect\s+(?:her|him|them|you|\S+(?:\s+\S+)?)\s+(?:with|to)\s+(?P<who>.+)"),
        _rx(r"\bput\s+(?:her|him|them|you|\S+(?:\s+\S+)?)\s+in\s+touch\s+with\s+(?P<who>.+)"),
    ),
    lead_pronouns=_rx(r"^(?:her|him|them|you)\s+"),
    trail_preps=_words("to with for"),
    do_verb=_rx(
        r"^(?:"
        + _alternation("""
            check|review|ask|look|find|call|follow|book|draft|write|prepare|make|set|put|loop|
            add|invite|update|confirm|test|try|read|help|give|reach|arrange|organise|organize|
            dig|sign|fix|run|compile|collect|research|host|cover|recommend|suggest|translate|
            record|build|create|explain|schedule|get|figure|think|reply|answer|bring|order|
            walk|show|connect
        """)
        + r")\b"
    ),
    wants=(
        _rx(
            r"\b(?:wants?|would\s+(?:like|love)|['’]d\s+(?:like|love)|asked\s+for|asks\s+for|"
            r"requested|keen\s+on|interested\s+in|open\s+to|up\s+for|agreed\s+to|looking\s+for)"
            r"\s+(?:to\s+(?:do|have|see|get|schedule|set\s+up|book|run|start|try|plan)\s+)?"
            r"(?P<rest>.+)"
        ),
        _rx(r"\b(?:schedule|book|set\s+up|arrange|plan|organi[sz]e)\s+(?P<rest>.+)"),
    ),
    topic=(
        _rx(
            r"\b(?:follow[- ]?up|next|another|second|2nd)\s+(?:call|meeting|chat|session|sync)"
            r"\s+(?:about|on|re:?|regarding|to\s+(?:discuss|talk\s+about|go\s+over)|for)"
            r"\s+(?P<rest>.+)"
        ),
    ),
    next_marker=_rx(r"^(?:next\s+steps?|next|ns)\s*[:\-–]\s*(?P<rest>.+)"),
    events=_EVENTS_EN,
)

_DE_INFINITIVE = (
    r"(?:zu\s+)?(?:schicken|senden|zuschicken|zusenden|rüberschicken|mailen|weiterleiten|"
    r"zuzuschicken|zuzusenden|weiterzuleiten|zukommen\s+lassen)"
)
_DE_PRONOUN = r"(?:ihm|ihr|ihnen|Ihnen|dir|euch)"
GERMAN = _Language(
    code="de",
    promised=_rx(
        r"^(?:(?:ich\s+)?(?:hab|habe)\s+(?:ihm\s+|ihr\s+|ihnen\s+|[A-ZÄÖÜ]\w+\s+)?)?"
        r"(?:versprochen|zugesagt)\s*[:,\-–]?\s*"
    ),
    send=(
        _rx(
            r"^(?:(?:ich|wir)\s+)?(?:(?:werde|werden|muss|müssen|soll|sollen|will|wollen|"
            rf"möchte)\s+)?(?P<rest>.+?)\s+{_DE_INFINITIVE}$"
        ),
        _rx(r"^(?:(?:ich|wir)\s+)?(?:schicke|schick|sende|maile|schicken|senden)\s+(?P<rest>.+)"),
        _rx(r"\b(?:ich|wir)\s+(?:schicke|sende|maile|schicken|senden)\s+(?P<rest>.+)"),
    ),
    intro=(
        _rx(r"\bvorstellen\s*:\s*(?P<who>.+)"),
        _rx(
            r"^(?:(?:ich|wir)\s+)?(?:(?:werde|werden|muss|soll|will)\s+)?"
            rf"(?:{_DE_PRONOUN}\s+)?(?P<who>.+?)\s+(?:vorstellen|vorzustellen)$"
        ),
        _rx(rf"\b(?:stelle|stell|stellen)\s+{_DE_PRONOUN}\s+(?P<who>.+?)\s+vor$"),
        _rx(
            r"\bmit\s+(?P<who>.+?)\s+(?:bekannt\s*machen|bekanntmachen|verbinden|vernetzen|"
            r"zusammenbringen)$"
        ),
        _rx(r"\bKontakt\s+(?:zu|mit)\s+(?P<who>.+?)\s+(?:herstellen|vermitteln)$"),
    ),
    lead_pronouns=_rx(rf"^(?:{_DE_PRONOUN}|an\s+(?:ihn|sie))\s+"),
    trail_preps=_words("an für"),
    do_verb=re.compile(r"^\S+(?:\s+\S+)*\s+[a-zäöüß]+(?:en|ern|eln)$"),
    wants=(
        _rx(
            r"\b(?:möchte|möchten|will|wollen|wünscht\s+sich|wünschen\s+sich|hätte\s+gerne?|"
            r"hätten\s+gerne?|interessiert\s+an|Interesse\s+an|bittet\s+um|fragt\s+nach)"
            r"\s+(?P<rest>.+?)(?:\s+(?:sehen|haben|machen|vereinbaren|planen|starten|"
            r"bekommen|durchführen))?$"
        ),
    ),
    topic=(
        _rx(
            r"\b(?:Folgetermin|Folgegespräch|Follow-up(?:-Call)?|nächste[rsn]?\s+"
            r"(?:Termin|Call|Gespräch|Treffen))\s+(?:zu|über|wegen|zum\s+Thema|bezüglich)"
            r"\s+(?P<rest>.+)"
        ),
    ),
    next_marker=_rx(r"^(?:nächste[rn]?\s+schritte?|nächste\s+schritte)\s*[:\-–]\s*(?P<rest>.+)"),
    events=_EVENTS_DE,
)

_ES_CLITIC = r"(?:le|les|selo|sela|selos|selas)"
_ES_SEND = (
    rf"(?:(?:enviar|mandar|pasar|compartir|reenviar){_ES_CLITIC}?"
    r"|(?:env[ií]a|m[aá]nda|p[aá]sa|comparte|reenv[ií]a)(?:le|les)"
    r"|(?:(?:le|les)\s+)?(?:env[ií]o|enviar[eé]|enviamos|mando|mandar[eé]|paso|pasar[eé]|"
    r"comparto|compartir[eé]|reenv[ií]o))"
)
SPANISH = _Language(
    code="es",
    promised=_rx(
        r"^(?:(?:le|les)\s+)?(?:prometido|prometida|prometimos|promet[ií])"
        r"(?:\s+a\s+(?-i:[A-ZÁÉÍÓÚÑ][\w'’-]*))?\s*[:,\-–]?\s*"
    ),
    send=(
        _rx(
            r"^(?:(?:voy|vamos)\s+a\s+|tengo\s+que\s+|tenemos\s+que\s+|hay\s+que\s+|debo\s+|"
            rf"quedé\s+en\s+|quedamos\s+en\s+)?{_ES_SEND}\s+(?P<rest>.+)"
        ),
        _rx(
            r"\b(?:le|les)\s+(?:env[ií]o|enviar[eé]|mando|mandar[eé]|paso|pasar[eé]|"
            r"voy\s+a\s+(?:enviar|mandar|pasar))\s+(?P<rest>.+)"
        ),
    ),
    intro=(
        _rx(r"\bpresentar(?:le|les|la|lo)?\s+a\s+(?P<who>.+)"),
        _rx(
            r"\b(?:le|les)\s+(?:presento|presentaré|presentare|voy\s+a\s+presentar)\s+a\s+(?P<who>.+)"
        ),
        _rx(r"\bponer(?:le|les|la|lo|los|las)?\s+en\s+contacto\s+con\s+(?P<who>.+)"),
        _rx(r"\b(?:le|les)\s+pongo\s+en\s+contacto\s+con\s+(?P<who>.+)"),
    ),
    lead_pronouns=_rx(r"^a\s+(?:él|ella|ellos|ellas|usted|ustedes)\s+"),
    trail_preps=_words("a para"),
    do_verb=_rx(r"^[a-záéíóúñ]+(?:ar|er|ir)(?:le|les|lo|la|los|las)?\b"),
    wants=(
        _rx(
            r"\b(?:quiere|quieren|querría|querrían|le\s+interesa|les\s+interesa|"
            r"interesad[oa]s?\s+en|pidió|pide|piden|desea|desean|le\s+gustaría|les\s+gustaría)"
            r"\s+(?:(?:ver|hacer|tener|organizar|agendar|programar)\s+)?(?P<rest>.+)"
        ),
    ),
    topic=(
        _rx(
            r"\b(?:llamada|reunión)\s+(?:de\s+seguimiento\s+)?(?:sobre|para\s+hablar\s+de|"
            r"acerca\s+de|para\s+ver)\s+(?P<rest>.+)"
        ),
    ),
    next_marker=_rx(r"^(?:pr[oó]ximos?\s+pasos?|siguientes?\s+pasos?)\s*[:\-–]\s*(?P<rest>.+)"),
    events=_EVENTS_ES,
)

_FR_SEND = (
    r"(?:(?:lui|leur)\s+)?(?:envoyer|transmettre|faire\s+suivre|renvoyer|partager|envoie|"
    r"enverrai|enverrons|transmets|transmettrai|partage|partagerai)"
)
FRENCH = _Language(
    code="fr",
    promised=_rx(
        rf"^(?:(?:j{_A}ai|je\s+(?:lui|leur)\s+ai|on\s+a|nous\s+avons)\s+)?promis"
        rf"(?:\s+à\s+(?-i:[A-ZÀ-Ý][\w'’-]*))?\s*(?:[:,\-–]\s*)?(?:(?:de\s+|d{_A})\s*)?"
    ),
    send=(
        _rx(
            rf"^(?:(?:je|j{_A}|on|nous)\s*)?(?:(?:vais|va|allons|dois|devons|doit)\s+|"
            rf"il\s+faut\s+)?{_FR_SEND}\s+(?P<rest>.+)"
        ),
        _rx(
            rf"\b(?:je|j{_A}|on|nous)\s*(?:lui\s+|leur\s+)?(?:envoie|enverrai|transmets|"
            r"transmettrai|vais\s+(?:lui\s+|leur\s+)?envoyer)\s+(?P<rest>.+)"
        ),
    ),
    intro=(
        _rx(r"\bprésenter\s+à\s+(?P<who>.+)"),
        _rx(r"\b(?:lui|leur)\s+présenter\s+(?P<who>.+)"),
        _rx(r"\b(?:je\s+)?(?:lui|leur)\s+(?:présente|présenterai)\s+(?P<who>.+)"),
        _rx(r"\bmettre\s+en\s+(?:contact|relation)\s+avec\s+(?P<who>.+)"),
        _rx(r"\bmise\s+en\s+relation\s+avec\s+(?P<who>.+)"),
    ),
    lead_pronouns=_rx(r"^à\s+(?:lui|elle|eux|elles)\s+"),
    trail_preps=_words("à pour"),
    do_verb=_rx(r"^[a-zàâçéèêëîïôûùüÿœ]+(?:er|ir|re)\b"),
    wants=(
        _rx(
            r"\b(?:veut|veulent|voudrait|voudraient|souhaite|souhaitent|aimerait|aimeraient|"
            r"intéressée?s?\s+par|demande|demandent)"
            r"\s+(?:(?:voir|faire|organiser|planifier|avoir)\s+)?(?P<rest>.+)"
        ),
    ),
    topic=(
        _rx(
            r"\b(?:appel|réunion|rendez-vous|point)\s+(?:de\s+suivi\s+)?(?:sur|au\s+sujet\s+de|"
            r"concernant|à\s+propos\s+de|pour\s+parler\s+de)\s+(?P<rest>.+)"
        ),
    ),
    next_marker=_rx(r"^(?:prochaines?\s+[ée]tapes?|[ée]tape\s+suivante)\s*[:\-–]\s*(?P<rest>.+)"),
    events=_EVENTS_FR,
)

LANGUAGES: tuple[_Language, ...] = (ENGLISH, GERMAN, SPANISH, FRENCH)

# "Intro to / zu / a / à X" is the same in every language.
_INTRO_ANY = _rx(r"\bintro\s+(?:zu|mit|a|à|con|avec)\s+(?P<who>.+)")


# =============================================================================================
# Tags, addresses, shareable text
# =============================================================================================

_TAG = re.compile(r"(?<![\w#&/])#(?P<no>no[-_]?)?follow[-_]?up(?![\w-])", re.IGNORECASE)
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?![\w-])",
    re.IGNORECASE,
)
# A quote line; ">50k", ">= 3" and ">>" are comparisons or arrows, not quotes.
_QUOTE = re.compile(r"^>(?![\d=<>$€£¥])(?! +[\d=$€£¥])")
_SHARE_MARKER = re.compile(
    r"^(?:[-*•]\s*)?(?:share|shareable|sharable|teilen|compartir|partager)\s*:\s*(?P<rest>.*)$",
    re.IGNORECASE | re.ASCII,
)


def find_tags(text: str) -> frozenset[str]:
    """The hashtags followup acts on, lower-case: "nofollowup" (also written #NoFollowUp,
    #no-followup, #no_follow_up) and "followup" (#followup, #follow-up)."""
    return frozenset("nofollowup" if m.group("no") else "followup" for m in _TAG.finditer(text))


def _addresses(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for match in _EMAIL.finditer(text):
        seen.setdefault(match.group(0).rstrip(".").lower(), None)
    return tuple(seen)


def _unquote(line: str) -> str:
    """A quote line without its ">" and one space after it."""
    text = line[1:]
    return text[1:] if text.startswith(" ") else text


def _shareable(private: str) -> str:
    """The text the user marked shareable (see the module docstring for the convention)."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    in_marker = False

    def close() -> None:
        nonlocal current
        if current:
            paragraphs.append(current)
        current = []

    for line in private.split("\n"):
        marker = _SHARE_MARKER.match(line)
        if in_marker and not marker:
            if not line.strip():
                close()
                in_marker = False
            else:
                current.append(_unquote(line) if _QUOTE.match(line) else line)
            continue
        if marker:
            close()
            if marker.group("rest").strip():
                current.append(marker.group("rest"))
                close()
            else:
                in_marker = True
            continue
        if _QUOTE.match(line):
            text = _unquote(line)
            if text.strip():
                current.append(text)
            else:
                close()  # a ">" alone separates quoted paragraphs
            continue
        close()
    close()
    return "\n\n".join("\n".join(p) for p in paragraphs)


# =============================================================================================
# Clauses and items
# =============================================================================================

_ABBREVIATIONS = _words(
    "dr mr mrs ms prof st sr sra jr vs ca approx e.g i.e z.b bzw mme mlle m no nr inc ltd co "
    "corp dept fig"
)
_CLAUSE_END = re.compile(r"[.!?;]+\s+|\s+[-–—]+\s+")


def _clauses(line: str) -> Iterator[str]:
    """Sentences and dash-separated parts of a line ("Dr. Martin" stays one)."""
    start = 0
    for match in _CLAUSE_END.finditer(line):
        before = line[start : match.start()].rsplit(" ", 1)[-1].lower()
        if match.group(0).startswith(".") and (
            before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha())
        ):
            continue
        # Keep "?" and "!" (a question is skipped later); drop the dashes.
        yield (line[start : match.start()] + match.group(0)).strip().rstrip("-–—").strip()
        start = match.end()
    yield line[start:].strip()


def _cut(text: str) -> str:
    """The part of an item before any aside, judgement or second action."""
    for pattern in (_CUT, _CUT_AND):
        match = pattern.search(text)
        if match:
            text = text[: match.start()]
    return text.strip()


def _trim(text: str) -> str:
    """Time phrases and filler words off both ends, repeatedly."""
    previous = None
    while previous != text:
        previous = text
        text = text.strip(" \t\"'“”‘’.,:;-–—")
        for pattern in (_TIME_TAIL, _FILLER_TAIL):
            text = pattern.sub("", text)
        for pattern in (_TIME_HEAD, _FILLER_HEAD):
            text = pattern.sub("", text)
    return text


def _is_name_word(word: str) -> bool:
    return word[:1].isupper() and any(ch.isalpha() for ch in word)


def _strip_lead_recipient(text: str, lang: _Language) -> str:
    """ "her the deck" -> "the deck"; "Jane the pricing sheet" -> "the pricing sheet"."""
    text = lang.lead_pronouns.sub("", text, count=1)
    words = text.split()
    for k in (1, 2, 3):
        if len(words) > k and all(_is_name_word(w) for w in words[:k]):
            if words[k].lower() in _DETERMINERS:
                return " ".join(words[k:])
            if lang is SPANISH or lang is FRENCH:
                break
    # "a Carlos el informe", "à Claire la présentation"
    if words and words[0].lower() in {"a", "à"} and lang in (SPANISH, FRENCH):
        for k in (1, 2, 3):
            names, after = words[1 : k + 1], words[k + 1 : k + 2]
            if after and all(map(_is_name_word, names)) and after[0].lower() in _DETERMINERS:
                return " ".join(words[k + 1 :])
    # "their CFO the deck": a possessive recipient followed by the item.
    if lang is ENGLISH and words and words[0].lower() in {"his", "her", "their"}:
        for k in (2, 3):
            if len(words) > k and words[k].lower() in _DETERMINERS:
                return " ".join(words[k:])
    return text


_RECIPIENT_WORDS = _words(
    "her him them you it ihn sie ihm ihr ihnen Ihnen él ella ellos ellas usted ustedes lui elle "
    "eux elles"
)


# "the deck to my team": sent to colleagues, not to the person met.
_INSIDE = re.compile(
    r"\s(?:to|with|for|an|mit|für|a|con|para|à|avec|pour)\s+(?:the|my|our|unser\w*|mein\w*|"
    r"die|den|el|mi|nuestro|nuestra|mon|ma|notre|mes|nos|l['’])?\s*(?:"
    + _alternation("""
        team|colleagues|board|sales|engineering|eng|legal|investors|founders|cofounder|
        co-founder|boss|manager|ceo|cto|cfo|coo|partners|
        kollegen|kollegin|vorstand|chef|chefin|geschäftsführung|
        equipo|colegas|jefe|jefa|socios|
        équipe|collègues|patron|associés
    """)
    + r")\b",
    re.IGNORECASE,
)


# "the pricing deck to Jane and the case study"
_RECIPIENT_BEFORE_AND = re.compile(
    r"\s+(?i:to|for)\s+(?:(?i:her|him|them|you)|[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,2})"
    r"(?=\s+(?:and|&)\s)"
)


def _strip_trail_recipient(text: str, lang: _Language) -> str:
    """ "the deck to Jane" / "das Deck an Klaus" / "el informe a Carlos" -> the item;
    "" when it goes to the user's own people ("the deck to my team")."""
    if _INSIDE.search(text):
        return ""
    if lang is ENGLISH:
        text = _RECIPIENT_BEFORE_AND.sub("", text)
    words = text.split()
    if len(words) > 2 and "@" in words[-1] and words[-2].lower() in lang.trail_preps:
        return " ".join(words[:-2])
    for k in (1, 2, 3):
        if len(words) <= k + 1:
            break
        prep, who = words[-k - 1].lower(), words[-k:]
        if prep not in lang.trail_preps:
            continue
        if prep == "to" and words[-k - 2].lower().strip(",") in _TO_KEEPS:
            return text
        if (k == 1 and who[0] in _RECIPIENT_WORDS) or all(_is_name_word(w) for w in who):
            return " ".join(words[: -k - 1])
        if lang is ENGLISH and who[0].lower() in {"his", "her", "their"} and k <= 3:
            return " ".join(words[: -k - 1])
    return text


def _article(item: str, events: frozenset[str]) -> str:
    """An English noun phrase with a sensible article: "pilot scope" -> "the pilot scope",
    "workshop with their team" -> "a workshop with their team", "pricing" stays."""
    first = item.split()[0]
    lowered = first.lower()
    if lowered in _DETERMINERS or first.endswith(("'s", "’s")) or first[:1].isdigit():
        return item
    head = item
    match = re.search(r"\s(?:with|for|about|on|of|at|in|to|from|into|around|re)\s", item)
    if match:
        head = item[: match.start()]
    head_word = head.split()[-1].lower()
    if head_word.endswith("ing"):
        return item
    if head_word in events:
        return ("an " if lowered[:1] in "aeio" else "a ") + item
    return "the " + item


def _has_any(words_of: str, vocabulary: frozenset[str]) -> bool:
    for raw in re.split(r"[\s\-/]+", words_of.lower()):
        word = raw.strip(".,:;!?\"'“”‘’()")
        if word in vocabulary:
            return True
        if len(word) > 6 and any(word.endswith(v) for v in vocabulary if len(v) >= 5):
            return True  # German compounds: "Preisliste", "Kalman-Filter-Artikel"
    return False


def _usable(item: str, *, max_words: int = 10) -> bool:
    """True when an item is short, specific and carries nothing private."""
    words = item.split()
    return (
        0 < len(words) <= max_words
        and len(item) <= 90
        and any(ch.isalpha() for ch in item)
        and item.lower() not in _PRONOUN_ONLY
        and words[0].lower() not in _BAD_START
        and not _JUDGEMENT.search(item)
        and not _FIRST_PERSON.search(item)
        and not _COPULA.search(item)
        and "@" not in item
    )


# What is attached to an item ("the term sheet with our 2x pref", "the deck for the board") is
# detail the email does not need.
_ATTACHED = re.compile(r"\s+(?:with|for|mit|für|con|para|avec|pour)\s", re.IGNORECASE)
# "a call with their CEO to close the deal": the purpose of the purpose stays private.
_IN_ORDER_TO = re.compile(r"\s+(?:to|so|um|para|pour|afin)\s", re.IGNORECASE)


def _send_item(rest: str, lang: _Language) -> str | None:
    item = _trim(_strip_lead_recipient(_trim(rest), lang))
    item = _trim(_cut(item))
    if _INSIDE.search(item):
        return None
    item = _trim(_ATTACHED.split(item, maxsplit=1)[0])
    item = _trim(_strip_trail_recipient(item, lang))
    if not item or not _usable(item):
        return None
    if lang is ENGLISH:
        first = item.split()[0]
        if first.lower() in {"his", "her", "their"}:
            item = "the " + item.split(" ", 1)[1] if " " in item else ""
        if not item or item.lower() in _PRONOUN_ONLY:
            return None
    if _THIRD_PERSON.search(item):
        return None
    if not _has_any(item, _SENDABLE):
        return None  # "share the news with the team" is not an item for the person
    return _article(item, frozenset()) if lang is ENGLISH else item


def _name_item(who: str) -> str | None:
    """A person (or "our CTO", "someone at Stripe") to introduce, or None."""
    name = _trim(_cut(who))
    words = name.split()
    if words and words[-1].lower() in {"to", "zu", "a", "à"}:
        words = words[:-1]
    # "Charles Martin to her" / "Klaus ihm"
    while len(words) > 1 and words[-1] in _RECIPIENT_WORDS:
        words = words[:-1]
    if len(words) > 2 and words[-2].lower() in {"to", "zu", "a", "à"}:
        words = words[:-2]
    name = " ".join(words)
    if not words or len(words) > 6 or not _usable(name, max_words=6):
        return None
    if words[0].lower() in _OWN and len(words) <= 4:
        return name
    if words[0].lower() in _SOMEONE:
        return name if len(words) >= 3 and words[1].lower() in _ORG_LINKS else None
    names = words
    for i, w in enumerate(words):
        if i and w.lower() in _ORG_LINKS and i + 1 < len(words):
            names = words[:i]
            if not all(_is_name_word(o) for o in words[i + 1 :]):
                return None
            break
    if not _is_name_word(names[0]):
        return None
    if not all(_is_name_word(w) or w.lower() in _NAME_PARTICLES for w in names):
        return None
    return name


def _pair_item(a: str, b: str, title: str) -> str | None:
    """ "intro Bob <> Carla": the one the title does not name is introduced."""
    lowered = title.lower()
    in_a, in_b = a.split()[0].lower() in lowered, b.split()[0].lower() in lowered
    if in_a and not in_b:
        return _name_item(b)
    if in_b and not in_a:
        return _name_item(a)
    first, second = _name_item(a), _name_item(b)
    return f"{first} and {second}" if first and second else None


def _do_item(rest: str, lang: _Language) -> str | None:
    item = _trim(_cut(_trim(rest)))
    words = item.split()
    if len(words) < 2 or not lang.do_verb.search(item) or not _usable(item):
        return None
    if _THIRD_PERSON.search(item) or _NEGATION.search(item):
        return None
    return item


def _prefix_blocks(prefix: str, *, intro: bool) -> bool:
    """Text before a trigger that voids it: a negation, or "gave me an intro to"."""
    if _NEGATION.search(prefix):
        return True
    return intro and bool(_FIRST_PERSON.search(prefix))


def _search(pattern: re.Pattern[str], body: str, before_aside: str) -> re.Match[str] | None:
    """A match in the clause, or in its part before any aside: German puts the verb last
    ("Whitepaper schicken, aber ...")."""
    return pattern.search(body) or pattern.search(before_aside)


def _promises_in(clause: str, title: str) -> list[tuple[Literal["send", "intro", "do"], str]]:
    body = _NEXT_PREFIX.sub("", _TODO.sub("", clause, count=1).strip(), count=1)
    explicit: _Language | None = None
    for lang in LANGUAGES:
        marker = lang.promised.match(body)
        if marker and marker.end() > 0:
            explicit, body = lang, body[marker.end() :].strip()
            break
    body = body.rstrip(" .!")
    if not body:
        return []

    found: list[tuple[Literal["send", "intro", "do"], str]] = []
    before_aside = _cut(body)
    for pattern in (*(p for lang in LANGUAGES for p in lang.intro), _INTRO_ANY):
        match = _search(pattern, body, before_aside)
        if not match or _prefix_blocks(body[: match.start()], intro=True):
            continue
        groups = match.groupdict()
        if groups.get("a") and groups.get("b"):
            who = _pair_item(groups["a"], groups["b"], title)
        else:
            who = _name_item(groups["who"])
        if who:
            found.append(("intro", who))
            return found
    for lang in LANGUAGES:
        for pattern in lang.send:
            match = _search(pattern, body, before_aside)
            if not match or _prefix_blocks(body[: match.start()], intro=False):
                continue
            item = _send_item(match.group("rest"), lang)
            if item:
                found.append(("send", item))
                return found
    if explicit is not None:
        do = _do_item(body, explicit)
        if do:
            found.append(("do", do))
        else:
            item = _send_item(body, explicit)
            if item:
                found.append(("send", item))
    return found


def _next_step_in(clause: str) -> str | None:
    body = _TODO.sub("", clause, count=1).strip().rstrip(" .!")
    for lang in LANGUAGES:
        candidates: list[tuple[re.Pattern[str], str]] = [(lang.next_marker, "marker")]
        candidates += [(p, "wants") for p in lang.wants]
        candidates += [(p, "topic") for p in lang.topic]
        for pattern, how in candidates:
            match = pattern.search(body)
            if not match or _NEGATION.search(body[: match.start()]):
                continue
            rest = _trim(_IN_ORDER_TO.split(_cut(_trim(match.group("rest"))), maxsplit=1)[0])
            if not rest or not _usable(rest) or _promises_in(rest, ""):
                continue
            words = rest.split()
            if how == "wants":
                # "[a] [quick] demo ...": the event comes first.
                skip = 1 if words[0].lower() in _DETERMINERS else 0
                event = next(
                    (
                        i
                        for i in range(skip, min(skip + 3, len(words)))
                        if _has_any(words[i], lang.events)
                    ),
                    None,
                )
                if event is None:
                    continue
                # "a demo of the dashboard"; "a demo for the team they are firing" -> "a demo".
                kept = _ATTACHED.split(rest, maxsplit=1)[0].split()
                rest = " ".join(kept if len(kept) <= event + 5 else words[: event + 1])
            elif not _has_any(rest, _PURPOSES):
                continue  # a marker or a topic must name what the meeting is for
            if lang is ENGLISH and how != "topic":
                rest = _article(rest, _EVENTS)
            return rest
    return None


def _clean_line(line: str) -> str:
    """A note line without its furniture: bullets, quote and share markers, hashtags."""
    text = line.strip()
    if _QUOTE.match(text):
        text = _unquote(text)
    marker = _SHARE_MARKER.match(text)
    if marker:
        text = marker.group("rest")
    text = _BULLET.sub("", text.strip())
    return _HASHTAG.sub("", text).strip()


# A note is a line or two; longer lines are pasted prose (an article, an email thread). They
# are not read for promises, which also keeps the reading linear on huge descriptions.
_MAX_LINE = 600


# ", and " (", und ", ", y ", ", et ") joining two actions in one promise line.
_AND_THEN = re.compile(r",\s*(?:and|und|y|et)\s+(?=\w)", re.IGNORECASE)


def _read_lines(private: str, title: str) -> tuple[tuple[Promise, ...], str | None]:
    promises: list[Promise] = []
    seen: set[tuple[str, str]] = set()
    next_step: str | None = None
    for raw in private.split("\n"):
        if len(raw) > _MAX_LINE:
            continue
        line = _clean_line(raw)
        if not line or _CONFIDENTIAL.search(line):
            continue
        for clause in _clauses(line):
            if not clause or "?" in clause or _HEDGE.search(clause):
                continue
            # "send her the article, and introduce her to Charles": two promises.
            for part in _AND_THEN.split(clause):
                for kind, item in _promises_in(part, title):
                    key = (kind, item.casefold())
                    if key not in seen:
                        seen.add(key)
                        promises.append(Promise(kind=kind, item=item, source_line=raw.strip()))
            if next_step is None:
                next_step = _next_step_in(clause)
    return tuple(promises), next_step


def read_material(description: str, *, title: str = "", by_user: bool = True) -> Material:
    """Split a meeting's description into private notes and what a draft may use.

    `by_user=False` is for a description written by an external organiser (their agenda,
    not the user's notes): nothing of it is shareable and nothing is read as the user's
    promise or next step; the private text, tags and addresses are still filled.
    """
    private = user_notes(description)
    tags = find_tags(title) | find_tags(private)
    addresses = _addresses(private)
    if not by_user:
        return Material(private, "", (), None, tags, addresses)
    promises, next_step = _read_lines(private, title)
    return Material(
        private=private,
        shareable=_shareable(private),
        promises=promises,
        next_step=next_step,
        tags=tags,
        addresses=addresses,
    )
