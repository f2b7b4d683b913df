/* ledger/questions.h — custom questions of an event type and a booking's
 * answers (docs/booking-page.md "Custom questions").
 *
 * Questions are kept as JSON text, a list of at most BK_MAX_QUESTIONS
 * {"id", "label", "type", "required", "options"} (type text, select,
 * checkbox or phone; options only, and always, for select). Answers are
 * kept as JSON text too, a list of {"id", "label", "type", "value"} for
 * each answered question in the questions' order: the label is the one
 * asked, so a later edit of the event type does not change what was
 * answered. */
#ifndef BK_LEDGER_QUESTIONS_H
#define BK_LEDGER_QUESTIONS_H

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"

#define BK_MAX_QUESTIONS        10
#define BK_MAX_QUESTION_ID      40
#define BK_MAX_QUESTION_LABEL   200
#define BK_MAX_QUESTION_OPTIONS 20
#define BK_MAX_QUESTION_OPTION  200  /* an option, and a select's answer */
#define BK_MAX_ANSWER           1000 /* a text answer */
#define BK_MAX_PHONE            40

/* Checks a request's "questions" value and gives its stored text, with
 * "required" filled in (false). BK_E_INVALID naming the field
 * ("questions[2].options[0]"). */
enum bk_err bk_questions_decode(const json_t *v, struct bk_arena *arena,
                                const char **out, struct bk_errbuf *err);

/* Checks a booking request's "answers" (an object by question id, or NULL)
 * against the stored questions and gives the stored answers' text (NULL:
 * none answered). An unknown id, a wrong type, a missing required answer,
 * a select's value that is not a choice or a malformed phone number are
 * BK_E_INVALID naming "answers.<id>". */
enum bk_err bk_answers_check(const char *questions, const json_t *answers,
                             struct bk_arena *arena, const char **out,
                             struct bk_errbuf *err);

#endif
