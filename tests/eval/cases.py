"""An evaluation set: a month of one user's real-looking meetings, with notes as people write
them (terse, mixed languages, judgements next to promises, pasted invitations), and what a
demanding reader expects of the drafts that follow (PLAYBOOK §2).

The user is Ada Lovelace (Berlin), who runs a small benchmarking shop. Every case names the
phrases of its notes that must never reach an email (`private`), and what its draft must do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DATA = Path(__file__).parent.parent / "core" / "data"
ZOOM = (DATA / "zoom.txt").read_text(encoding="utf-8")
MEET = (DATA / "google_meet.txt").read_text(encoding="utf-8")
TEAMS_2024 = (DATA / "teams_2024.txt").read_text(encoding="utf-8")
CALENDLY = (DATA / "calendly.txt").read_text(encoding="utf-8")
RIVERSIDE = (DATA / "riverside.txt").read_text(encoding="utf-8")

BERLIN = "Europe/Berlin"
ME = "ada@lovelace.dev"
ME_NAME = "Ada Lovelace"


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    start: str  # "2026-03-03 08:30", in `tz`
    minutes: int
    people: tuple[tuple[str, str], ...]  # (display name as the invite has it, address)
    notes: str = ""
    location: str = ""
    tz: str = BERLIN
    organizer: tuple[str, str] | None = None  # None: the user organised it
    # Phrases of the notes that must never reach any draft.
    private: tuple[str, ...] = ()
    # What the drafts must do:
    skip: str | None = None  # a meeting-level skip code: no draft at all
    drafts: int = 1  # how many drafts the meeting gets
    language: str = "en"
    contains: tuple[str, ...] = ()  # in the draft (each draft of the meeting)
    placeholder: bool = False  # nothing specific to say: a visible [[ ]] must stand in
    both_zones: bool = False  # the other side is in another zone
    known: tuple[str, ...] = ()  # addresses with mail before the meeting
    cards: tuple[tuple[str, str, str], ...] = ()  # (address, card name, given name)
    all_day: bool = False
    cancelled: bool = False
    user_declined: bool = False
    skipped_people: tuple[str, ...] = ()  # addresses that must get no draft
    extra: dict[str, str] = field(default_factory=dict)

    def when(self) -> datetime:
        return datetime.strptime(self.start, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(self.tz))


CASES: tuple[Case, ...] = (
    Case(
        "coffee-jane", "Coffee with Jane Doe", "2026-03-03 08:30", 45,
        (("Jane Doe", "jane.doe@acme-corp.com"),),
        notes=(
            "Jane - VP Eng at Acme. hiring 3 perf engineers\n"
            "seemed bored when I talked about our roadmap, on her phone a lot\n"
            "Promised: send the Kalman filter article\n"
            "wants a demo of the regression dashboard"
        ),
        location="The Barn, Schönhauser Allee 8, 10119 Berlin",
        private=("bored", "on her phone", "hiring 3", "VP Eng"),
        contains=("over coffee at The Barn", "the Kalman filter article",
                  "a demo of the regression dashboard"),
    ),
    Case(
        "jane-ada", "Jane <> Ada", "2026-03-04 14:00", 30,
        (("Jane Park", "jane@parkventures.vc"),),
        notes=MEET, placeholder=True,
    ),
    Case(
        "quarterly", "[EXT] Quarterly review", "2026-03-04 10:00", 60,
        (("Tom Becker", "tom.becker@globex-logistik.de"),),
        notes=(
            "Tom unhappy about the Feb outage. They're evaluating Datadog - DON'T mention the "
            "price increase yet.\nNext step: renewal scope workshop"
        ),
        private=("unhappy", "outage", "Datadog", "price increase", "DON'T"),
        known=("tom.becker@globex-logistik.de",),
        contains=("Good to see you at the quarterly review",
                  "a time for a renewal scope workshop"),
        placeholder=True,
    ),
    Case(
        "interview", "Interview: Senior Backend Engineer – Sam Lee", "2026-03-05 11:00", 60,
        (("Sam Lee", "sam.lee@fastmail.com"),),
        notes="6/10, lean no hire. weak on concurrency, good on profiling",
        private=("6/10", "lean no hire", "weak on concurrency"),
        skip="not_networking",
    ),
    Case(
        "journalist", "Call with Priya (TechCrunch)", "2026-03-05 16:00", 30,
        (("Priya Raman", "priya.raman@techcrunch.com"),),
        notes=(
            "OFF THE RECORD: we're raising a Series A in April.\n"
            "She's writing about benchmark cheating in AI chips.\n"
            "Promised to send her the methodology whitepaper"
        ),
        private=("Series A", "raising", "cheating"),
        contains=("the methodology whitepaper",),
    ),
    Case(
        "escalation", "Escalation: Initech latency", "2026-03-06 09:00", 45,
        (("Bill Lumbergh", "bill.lumbergh@initech.com"),),
        organizer=("Bill Lumbergh", "bill.lumbergh@initech.com"),
        notes=(
            "Agenda:\n1. latency regression since v4.2\n2. SLA credits owed by Lovelace\n"
            "3. whether to keep the contract"
        ),
        private=("SLA credits", "keep the contract", "latency regression"),
        known=("bill.lumbergh@initech.com",),
        placeholder=True,
    ),
    Case(
        "old-friend", "Lunch with Marco", "2026-03-06 12:30", 90,
        (("Marco", "marco.rossi@gmail.com"),),
        notes=(
            "Marco's divorce is final, tough year for him.\n"
            "Promised: intro to Lena Vogel - she's looking for a backend lead"
        ),
        location="Osteria Centrale, Bergmannstraße 3, 10961 Berlin",
        private=("divorce", "tough year", "looking for a backend lead"),
        cards=(("marco.rossi@gmail.com", "Marco Rossi", "Marco"),),
        contains=("I'll introduce you to Lena Vogel", "Good to see you"),
    ),
    Case(
        "klaus", "Kaffee mit Klaus Weber", "2026-03-09 09:00", 45,
        (("WEBER, KLAUS", "klaus.weber@weber-maschinenbau.de"),),
        notes=(
            "Klaus - Geschäftsführer, 40 MA. Budget knapp, eher skeptisch.\n"
            "Versprochen: Whitepaper zu Prüfstandsdaten schicken\n"
            "möchte eine Demo"
        ),
        location="Café Einstein Stammhaus, Kurfürstenstraße 58, 10785 Berlin",
        private=("Budget knapp", "skeptisch", "40 MA"),
        cards=(("klaus.weber@weber-maschinenbau.de", "Klaus Weber", "Klaus"),),
        language="de",
        contains=("Hallo Klaus Weber,", "Whitepaper zu Prüfstandsdaten", "eine Demo"),
    ),
    Case(
        "marta", "Llamada con Marta García", "2026-03-09 15:00", 30,
        (("Marta García", "marta.garcia@fintech-iberia.es"),),
        notes=(
            "Marta lleva el equipo de datos. No le convence el precio.\n"
            "Prometí enviarle el informe de benchmarks\nquiere una demo"
        ),
        private=("No le convence", "precio"),
        language="es",
        contains=("Hola Marta,", "el informe de benchmarks"),
    ),
    Case(
        "claire", "Déjeuner avec Claire Dubois", "2026-03-10 12:30", 90,
        (("Claire Dubois", "claire.dubois@atelier-lumiere.fr"),),
        notes=(
            "Claire dirige l'innovation. Trop cher pour eux selon elle.\n"
            "Promis : envoyer l'étude de cas Renault"
        ),
        location="Le Comptoir du Relais, 9 Carrefour de l'Odéon, 75006 Paris",
        tz="Europe/Paris",
        private=("Trop cher", "dirige l'innovation"),
        language="fr",
        contains=("Bonjour Claire,", "l'étude de cas Renault"),
    ),
    Case(
        "ben-sf", "Intro call – Ada / Ben (Lighthouse Labs)", "2026-03-10 09:00", 30,
        (("Ben Carter", "ben@lighthouselabs.io"),),
        tz="America/Los_Angeles",
        organizer=("Ben Carter", "ben@lighthouselabs.io"),
        notes="",
        both_zones=True, placeholder=True,
    ),
    Case(
        "ben-sf-notes", "Lighthouse Labs follow-up", "2026-03-17 08:30", 30,
        (("Ben Carter", "ben.carter@lighthouse-robotics.com"),),
        tz="America/Los_Angeles",
        notes="Ben CTO. pushing for exclusivity - DON'T agree yet. wants a pilot",
        private=("exclusivity", "DON'T"),
        both_zones=True, placeholder=True,
        contains=("a pilot",),
    ),
    Case(
        "kenji", "Sync with Kenji", "2026-03-11 17:00", 30,
        (("Kenji Tanaka", "kenji.tanaka@sakura-robotics.jp"),),
        tz="Asia/Tokyo",
        notes="> Thanks for walking me through your test rig.\nKenji slow to decide, needs HQ.",
        private=("slow to decide", "needs HQ"),
        both_zones=True,
        contains=("Thanks for walking me through your test rig.",),
    ),
    Case(
        "factory-anna", "FactoryTech 2026: Anna van der Berg", "2026-03-14 10:00", 30,
        (("van der Berg, Anna", "anna@bergsma-industrie.nl"),),
        notes="Anna - plant manager, 3 lines, old PLCs. Promised: send the OEE benchmark report",
        location="Messe Berlin, Halle 21, Messedamm 22, 14055 Berlin",
        private=("old PLCs", "3 lines"),
        contains=("FactoryTech", "the OEE benchmark report", "Hi Anna,"),
    ),
    Case(
        "factory-ortega", "FactoryTech 2026", "2026-03-14 11:00", 30,
        (("Luis Ortega", "luis@ortega-automation.com"),
         ("Sofia Ortega", "sofia@ortega-automation.com")),
        notes=(
            "Luis and Sofia, automation integrators. interested in a pilot.\n"
            "Luis was dismissive of our pricing"
        ),
        location="Messe Berlin, Halle 21",
        private=("dismissive", "pricing"),
        placeholder=True,
        contains=("Hi Luis and Sofia,", "a pilot", "at FactoryTech"),
    ),
    Case(
        "factory-dinner", "FactoryTech – Dinner", "2026-03-14 19:30", 120,
        (("Dr. Jane Q. Doe Jr.", "janeq@quantum-foundry.com"),),
        notes=(
            "Share: Great to swap stories about test benches over dinner.\n"
            "She drank too much.\nPromised: intro to Charles Martin"
        ),
        location="Restaurant Tim Raue, Rudi-Dutschke-Straße 26, 10969 Berlin",
        private=("drank",),
        contains=("Great to swap stories about test benches over dinner.",
                  "Charles Martin"),
    ),
    Case(
        "kickoff", "Acme / Initech: pilot kickoff", "2026-03-16 10:00", 60,
        (("Raj Patel", "raj@acme-corp.com"), ("Mia Wong", "mia.wong@acme-corp.com"),
         ("Peter Gibbons", "peter@initech.com"), ("Samir N.", "samir@initech.com"),
         ("Joanna", "joanna@initech.com")),
        notes="Kickoff went ok. Peter (Initech) seemed disengaged.\nnext step: pilot scope",
        private=("disengaged",),
        drafts=2, placeholder=True,
        contains=("the pilot scope",),
    ),
    Case(
        "vendor", "Demo of DataDoggo platform", "2026-03-16 14:00", 45,
        (("Rick Sales", "rick@datadoggo.io"),),
        organizer=("Rick Sales", "rick@datadoggo.io"),
        notes="they pitched their APM, pricey, vendor demo",
        skip="not_networking",
    ),
    Case(
        "hallway", "Chat with Maria at the Berlin Perf meetup", "2026-03-17 19:00", 30, (),
        notes=(
            "met Maria (maria.santos@cloudnine.io) at the meetup. runs SRE at Cloudnine, "
            "frustrated with her boss.\nPromised: send the flamegraph talk slides"
        ),
        private=("frustrated", "her boss"),
        contains=("the flamegraph talk slides",),
    ),
    Case("focus", "Focus time", "2026-03-18 09:00", 120, (), skip="nobody_found"),
    Case(
        "recruiter", "Coffee with Ben (recruiter) #nofollowup", "2026-03-18 12:00", 30,
        (("Ben Hunter", "ben@talentscouts.io"),), notes="wants to poach me",
        skip="tagged_nofollowup",
    ),
    Case(
        "calendly", "30 Minute Meeting between Ada Lovelace and Rob Stark", "2026-03-18 15:00", 30,
        (("Rob Stark", "rob@winterfell-engines.com"),),
        organizer=("Rob Stark", "rob@winterfell-engines.com"),
        notes=CALENDLY, placeholder=True,
    ),
    Case(
        "teams", "Partnership discussion", "2026-03-19 10:00", 60,
        (("Omar Haddad", "omar@contoso-partners.com"),),
        organizer=("Omar Haddad", "omar@contoso-partners.com"),
        notes=TEAMS_2024, placeholder=True,
    ),
    Case(
        "zoom", "Benchmark deep dive", "2026-03-19 14:00", 60,
        (("Lisa Chen", "lisa.chen@riverbed-data.com"),),
        notes="Lisa wants the raw numbers - careful, she leaks to competitors.\n"
              "Promised: send the CSV exports\n\n" + ZOOM,
        private=("leaks", "competitors", "careful"),
        contains=("the CSV exports",),
    ),
    Case(
        "podcast", "Podcast recording – Perf Matters", "2026-03-20 16:00", 60,
        (("Dana Whitfield", "dana@perfmatters.fm"),),
        organizer=("Dana Whitfield", "dana@perfmatters.fm"),
        notes=RIVERSIDE, placeholder=True,
    ),
    Case(
        "sponsor", "Sponsorship call", "2026-03-20 11:00", 30,
        (("PerfConf Events", "events@perfconf.org"), ("Nina Berg", "nina@perfconf.org")),
        notes="Nina runs sponsorships. Gold tier is overpriced IMO.",
        private=("overpriced",),
        skipped_people=("events@perfconf.org",),
        placeholder=True,
    ),
    Case(
        "pricing", "Re: Fwd: Pricing follow-up", "2026-03-23 10:00", 30,
        (("Greg Miller", "greg.miller@blueriver-analytics.com"),),
        notes="Greg asked for a volume discount - our floor is 40k. send the pricing FAQ",
        private=("floor", "40k", "volume discount"),
        contains=("the pricing FAQ",),
    ),
    Case(
        "call", "Call", "2026-03-23 15:00", 30,
        (("Hannah Schmidt", "hannah@schmidt-consulting.de"),),
        placeholder=True,
    ),
    Case(
        "catchup", "Catch up", "2026-03-24 09:30", 30,
        (("Oliver Grant", "oliver.grant@northwind-traders.com"),),
        notes="Oliver moving to a new role in May - confidential",
        private=("new role", "confidential", "May"),
        known=("oliver.grant@northwind-traders.com",),
        contains=("Thanks for the call",),
        placeholder=True,
    ),
    Case(
        "declined", "Vendor sync", "2026-03-24 11:00", 30,
        (("Paula Vendor", "paula@vendorly.com"),),
        organizer=("Paula Vendor", "paula@vendorly.com"),
        user_declined=True, skip="user_declined",
    ),
    Case(
        "cancelled", "Coffee with Ivan", "2026-03-24 13:00", 30,
        (("Ivan Petrov", "ivan@petrov-labs.com"),), cancelled=True, skip="cancelled",
    ),
    Case(
        "offsite", "Offsite", "2026-03-25 00:00", 24 * 60,
        (("Zoe Park", "zoe@hyperion-ai.com"),), all_day=True, skip="all_day",
    ),
    Case(
        "standup", "Team standup", "2026-03-25 09:30", 15,
        (("Charles Babbage", "charles@lovelace.dev"),),
        drafts=0, skipped_people=("charles@lovelace.dev",),
    ),
    Case(
        "demo-for-acme", "Demo for Acme", "2026-03-25 14:00", 45,
        (("Raj Patel", "raj.patel@acme-widgets.com"),),
        notes="Raj liked the dashboard, asked about SSO. next step: security review",
        placeholder=True,
        contains=("a security review",),
    ),
    Case(
        "investor", "Coffee – Sarah Kim (Seedcamp)", "2026-03-26 08:30", 45,
        (("Sarah Kim", "sarah.kim@seedcamp.com"),),
        notes="Sarah: ping me in 3 weeks. lukewarm on our TAM. Promised: send the deck",
        location="Father Carpenter, Münzstraße 21, 10178 Berlin",
        private=("lukewarm", "TAM"),
        contains=("the deck", "Father Carpenter"),
    ),
    Case(
        "newline-name", "Workshop", "2026-03-26 14:00", 60,
        (("Eve\nBcc: spy@evil.example", "eve@shadowsec.io"),),
        notes="Eve asked sharp questions about our threat model.",
        private=("threat model",),
        placeholder=True,
    ),
)
