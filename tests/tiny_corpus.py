"""A tiny labelled corpus and a model trained on it, for tests that retrain or swap models.

Shared by test_relearn.py and test_app.py; nothing here touches models/ or data/.
"""

from __future__ import annotations

import json
from pathlib import Path

from classifier.training.corpus import corpus_hash
from classifier.classify.model import save_model
from classifier.training.candidates import build_candidate
from classifier.classify.text import model_input

MESSAGES = {
    "cold_pitch": [
        "Hi, I represent a new budgeting app and would love a review in your newsletter this month.",
        "Our agency client launches a book next week; could you feature it for your readers?",
        "We offer guest posts with a link to our site; would you publish one on your blog?",
        "I'm reaching out about our SaaS tool, can we book a demo call with your team?",
        "Would you cover our startup's launch? Happy to send a press kit and an exclusive.",
        "Our PR firm has an embargoed report you could write about for your audience.",
        "Could you promote our new product to your followers? We can offer a discount code.",
        "I'd love to pitch you a sponsored slot for our client's brand in your next issue.",
    ],
    "charity_ask": [
        "Please donate to our food bank appeal this winter; every pound feeds a family.",
        "Sign our petition to save the local library from closure before Friday.",
        "I'm running a marathon for the hospice, would you sponsor me with a donation?",
        "Our charity needs volunteers for the beach clean on Saturday, can you join us?",
        "Chip in five pounds to the campaign fund before the deadline tonight.",
        "Support the refugee housing fundraiser by sharing the donation page with friends.",
        "Vote for our community garden in the council grant scheme, it takes a minute.",
        "Give to the children's playground appeal; we are halfway to our target.",
    ],
    "friend_favour": [
        "Hey, could you give me a lift to the airport on Saturday? I'll buy breakfast.",
        "Would you read my cover letter tonight, mate? You always spot the clunky bits.",
        "Any chance you could introduce me to your friend at the council planning office?",
        "Can you help me move the sofa into the new flat on Sunday afternoon?",
        "Could you be a reference for my job application? They might phone next week.",
        "Would you look at my draft chapter when you have a spare hour? No rush.",
        "Can you water my plants while I'm away next week? Key is under the mat.",
        "Fancy giving me some advice on starting a newsletter over coffee soon?",
    ],
    "spam": [
        "CONGRATULATIONS you have won a free iPhone, click the link now to claim your prize!!!",
        "Earn 5000 a week from home with this one weird trick, limited places, act now.",
        "Your account is suspended, verify your password at this secure link immediately.",
        "Hot singles in your area want to meet you tonight, click here.",
        "Follow for follow! Like my page and I'll like yours, 100% guaranteed growth.",
        "Claim your lottery winnings of 2,500,000 by sending your bank details today.",
        "Cheap meds online no prescription needed, order now and save 90 percent.",
        "Crypto investment doubles your money in 7 days, guaranteed returns, join now.",
    ],
    "no_ask": [
        "Thanks so much for the lift yesterday, it was lovely to catch up.",
        "Your ticket for the 09:15 train to Leeds is attached. Have a good journey.",
        "Just wanted to say I loved this week's issue about benches, great read.",
        "This week's newsletter: three stories about trams, parks and housing.",
        "Your parcel has been delivered to the front porch at 14:02.",
        "Lovely to see you at the talk last night, the questions were brilliant.",
        "Meeting notes from Tuesday are in the shared folder, nothing urgent.",
        "Happy birthday! Hope you have a wonderful day with the family.",
    ],
}


def write_corpus(path: Path) -> Path:
    """The corpus file, one group per message, in the fields load_corpus reads."""
    with open(path, "w", encoding="utf-8") as f:
        for label, texts in MESSAGES.items():
            for index, text in enumerate(texts):
                f.write(json.dumps({"id": f"{label}:{index}", "text": text, "subject": "", "channel": "email",
                                    "label": label, "source": "test", "group": f"{label}:{index}"}) + "\n")
    return path


def save_tiny_model(corpus: Path, folder: Path) -> dict:
    """Train the logreg candidate on the whole tiny corpus and save it as a model folder."""
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    pipeline = build_candidate("logreg")
    pipeline.fit([model_input(r["subject"], r["text"]) for r in rows], [r["label"] for r in rows])
    training = {"n_train": len(rows), "n_held_out": 0, "folds": 5, "seed": 0}
    return save_model(pipeline, folder, candidate="logreg", corpus_sha256=corpus_hash(corpus), metrics={},
                      training=training)
