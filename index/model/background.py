"""Questions a Discord community asks that no article about Iran–Taliban ties answers (background_questions.txt,
one a line).

The off-topic bar is calibrated on them: a question must match the corpus better than these do. The ONNX export
is checked on them too, beside the corpus's passages, so they are data both read rather than code of either. They
are everyday topics (cooking, weather, sport, health, technology, hobbies, travel), chit-chat, and help with a
Discord server, the kinds of question any community bot hears; none was written against an evaluation question.
"""

from pathlib import Path

BACKGROUND_FILE = Path(__file__).with_name("background_questions.txt")
BACKGROUND_QUESTIONS = tuple(line.strip() for line in BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
                             if line.strip())
