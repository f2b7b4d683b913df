"""Custom questions of an event type and a booking's answers
(docs/booking-page.md "Custom questions"): the strict shape of both, the
caps, hostile inputs, and who sees the answers (the host through the admin
API; never a visitor, not even with the manage token)."""
import datetime as dt

import pytest

from conftest import assert_error, today_in

DAY = dt.timedelta(days=1)

QUESTIONS = [
    {"id": "goal", "label": "What would you like to work on?",
     "type": "text", "required": True},
    {"id": "level", "label": "Your level", "type": "select",
     "options": ["Beginner", "Intermediate", "Advanced"]},
    {"id": "terms", "label": "I accept the terms", "type": "checkbox",
     "required": True},
    {"id": "phone", "label": "Phone", "type": "phone"},
]


def put_questions(d, questions, slug="intro", expect=200):
    r = d.patch(f"/api/v1/event-types/{slug}", {"questions": questions},
                admin=True)
    assert r.status == expect, r
    return r


def first_slot(d, slug="intro", n=0):
    day = today_in("Europe/Berlin") + 2 * DAY
    return d.slots(slug, day, day)["slots"][str(day)][n]["start"]


def book(d, answers, n=0, admin=False, notes=None):
    body = {"event_type": "intro", "start": first_slot(d, n=n),
            "attendee": {"name": "Ada", "email": "ada@example.com"}}
    if answers is not None:
        body["answers"] = answers
    if notes:
        body["notes"] = notes
    return d.post("/api/v1/bookings", body, admin=admin)


def test_questions_round_trip_and_are_public(app):
    assert app.get("/api/v1/event-types/intro").json["questions"] == []
    r = put_questions(app, QUESTIONS)
    want = [dict(q, required=q.get("required", False)) for q in QUESTIONS]
    assert r.json["questions"] == want
    # The booking form needs them: the public view has them too.
    assert app.get("/api/v1/event-types/intro").json["questions"] == want
    lst = app.get("/api/v1/event-types").json["data"]
    assert lst[0]["questions"] == want
    # A patch without them keeps them; [] removes them.
    r = app.patch("/api/v1/event-types/intro", {"title": "Intro"}, admin=True)
    assert r.json["questions"] == want
    assert put_questions(app, []).json["questions"] == []


def test_answers_are_stored_and_shown_to_the_host_only(app):
    put_questions(app, QUESTIONS)
    r = book(app, {"goal": "Run a <b>marathon</b>\nin May", "level":
                   "Advanced", "terms": True, "phone": "+49 (30) 123-456"})
    assert r.status == 201, r
    b = r.json
    assert "answers" not in b, "the visitor's answer carries no answers"
    want = [
        {"id": "goal", "label": "What would you like to work on?",
         "type": "text", "value": "Run a <b>marathon</b>\nin May"},
        {"id": "level", "label": "Your level", "type": "select",
         "value": "Advanced"},
        {"id": "terms", "label": "I accept the terms", "type": "checkbox",
         "value": True},
        {"id": "phone", "label": "Phone", "type": "phone",
         "value": "+49 (30) 123-456"},
    ]
    admin = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert admin["answers"] == want
    lst = app.get("/api/v1/bookings", admin=True).json["data"]
    assert lst[0]["answers"] == want
    # The manage token opens the booking, not its answers.
    pub = app.get(f"/api/v1/bookings/{b['uid']}",
                  query={"token": b["manage_token"]}).json
    assert "answers" not in pub and "marathon" not in str(pub)
    # Answers keep the label asked, whatever the event type says later.
    put_questions(app, [{"id": "goal", "label": "Changed", "type": "text"}])
    assert app.get(f"/api/v1/bookings/{b['uid']}",
                   admin=True).json["answers"] == want


def test_optional_questions_may_go_unanswered(app):
    put_questions(app, [dict(q, required=False) for q in QUESTIONS])
    r = book(app, None)
    assert r.status == 201, r
    a = app.get(f"/api/v1/bookings/{r.json['uid']}", admin=True).json
    # An unticked checkbox is an answer (false); empty texts are not.
    assert a["answers"] == [{"id": "terms", "label": "I accept the terms",
                             "type": "checkbox", "value": False}]
    r = book(app, {"goal": "", "phone": ""}, n=1)
    assert r.status == 201, r


def test_no_questions_no_answers(app):
    r = book(app, {})
    assert r.status == 201, r
    assert app.get(f"/api/v1/bookings/{r.json['uid']}",
                   admin=True).json["answers"] == []
    assert_error(book(app, {"x": "y"}, n=1), 422, "invalid_field",
                 field="answers.x")


@pytest.mark.parametrize("answers,field", [
    ({"level": "Advanced", "terms": True}, "answers.goal"),   # required
    ({"goal": "", "terms": True}, "answers.goal"),           # required, empty
    ({"goal": "x", "terms": False}, "answers.terms"),        # must be ticked
    ({"goal": "x"}, "answers.terms"),
    ({"goal": "x", "terms": "yes"}, "answers.terms"),
    ({"goal": "x", "terms": 1}, "answers.terms"),
    ({"goal": 5, "terms": True}, "answers.goal"),
    ({"goal": ["x"], "terms": True}, "answers.goal"),
    ({"goal": {"a": 1}, "terms": True}, "answers.goal"),
    ({"goal": "x" * 1001, "terms": True}, "answers.goal"),
    ({"goal": "bell\u0007", "terms": True}, "answers.goal"),
    ({"goal": "x", "terms": True, "level": "Expert"}, "answers.level"),
    ({"goal": "x", "terms": True, "level": "advanced"}, "answers.level"),
    ({"goal": "x", "terms": True, "level": "Advanced\n"}, "answers.level"),
    ({"goal": "x", "terms": True, "phone": "call me"}, "answers.phone"),
    ({"goal": "x", "terms": True, "phone": "12"}, "answers.phone"),
    ({"goal": "x", "terms": True, "phone": "+1 555 0100 <script>"},
     "answers.phone"),
    ({"goal": "x", "terms": True, "phone": "1" * 41}, "answers.phone"),
    ({"goal": "x", "terms": True, "phone": "+1\n555"}, "answers.phone"),
    ({"goal": "x", "terms": True, "nope": "x"}, "answers.nope"),
    ({"goal": "x", "terms": True, "__proto__": "x"}, "answers.__proto__"),
    ("goal=x", "answers"),
    ([{"goal": "x"}], "answers"),
    (7, "answers"),
])
def test_bad_answers_are_422_and_book_nothing(app, answers, field):
    put_questions(app, QUESTIONS)
    assert_error(book(app, answers), 422, "invalid_field", field=field)
    assert app.get("/api/v1/bookings", admin=True).json["data"] == []


def test_admin_bookings_answer_too(app):
    # The rules hold for an admin's booking as well.
    put_questions(app, QUESTIONS)
    assert_error(book(app, {"terms": True}, admin=True), 422, field="answers.goal")


def q(**over):
    base = {"id": "a", "label": "A", "type": "text"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("questions,field", [
    ("nope", "questions"),
    ({"id": "a"}, "questions"),
    ([q()] * 1 + [q(id=f"q{i}") for i in range(10)], "questions"),  # 11
    (["text"], "questions[0]"),
    ([q(id=None)], "questions[0].id"),
    ([q(id="")], "questions[0].id"),
    ([q(id="A B")], "questions[0].id"),
    ([q(id="x" * 41)], "questions[0].id"),
    ([q(id="a.b")], "questions[0].id"),
    ([q(), q()], "questions[1].id"),
    ([q(label=None)], "questions[0].label"),
    ([q(label="")], "questions[0].label"),
    ([q(label="x" * 201)], "questions[0].label"),
    ([q(label="two\nlines")], "questions[0].label"),
    ([q(label=5)], "questions[0].label"),
    ([q(type=None)], "questions[0].type"),
    ([q(type="file")], "questions[0].type"),
    ([q(type="TEXT")], "questions[0].type"),
    ([q(required="yes")], "questions[0].required"),
    ([q(options=["a"])], "questions[0].options"),
    ([q(type="select")], "questions[0].options"),
    ([q(type="select", options=[])], "questions[0].options"),
    ([q(type="select", options="a,b")], "questions[0].options"),
    ([q(type="select", options=[f"o{i}" for i in range(21)])],
     "questions[0].options"),
    ([q(type="select", options=["a", ""])], "questions[0].options[1]"),
    ([q(type="select", options=["a", "a"])], "questions[0].options[1]"),
    ([q(type="select", options=["a", 1])], "questions[0].options[1]"),
    ([q(type="select", options=["x" * 201])], "questions[0].options[0]"),
    ([q(placeholder="p")], "questions[0].placeholder"),
])
def test_bad_questions_are_422(app, questions, field):
    r = put_questions(app, questions, expect=422)
    assert_error(r, 422, "invalid_field", field=field)
    assert app.get("/api/v1/event-types/intro").json["questions"] == []
    body = {"slug": "other", "title": "Other", "host": "coach",
            "duration_minutes": 30, "questions": questions}
    assert_error(app.post("/api/v1/event-types", body, admin=True), 422,
                 field=field)


def test_questions_at_their_caps(app):
    qs = [{"id": f"{i:02d}" + "x" * 38, "label": "L" * 200,
           "type": "select", "required": i % 2 == 0,
           "options": [f"{j:02d}" + "o" * 198 for j in range(20)]}
          for i in range(10)]
    r = put_questions(app, qs)
    assert r.json["questions"] == qs
    answers = {x["id"]: x["options"][19] for x in qs}
    r = book(app, answers)
    assert r.status == 201, r
    got = app.get(f"/api/v1/bookings/{r.json['uid']}", admin=True).json
    assert [a["value"] for a in got["answers"]] == [x["options"][19]
                                                   for x in qs]
