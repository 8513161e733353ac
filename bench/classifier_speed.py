"""The classifier alone: short messages per second on one core, to check the model card's number.

    .venv/bin/python bench/classifier_speed.py

Texts as the model card measures them (classifier.evaluate.short_messages: model inputs of at most 160
characters, repeated to 3,000): from the held-out part of the grouped split (what ``triage train``
times) and from the whole corpus. One BLAS/OpenMP thread (threadpoolctl), best of 5, wall and CPU:

- ``pipeline.predict_proba``: what the model card's column measures;
- ``Classifier.classify_many``: what the batch job and the filter call (adds the explanations),
  on all texts at once and in chunks of batch.CHUNK (256) as ``triage score`` does.

The package's per-process caches (normalised chunks, char n-gram indices) and spaCy's own (vocabulary,
tokenizer) stay warm across passes, as in the model card's measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def best_of(function, texts, repeats: int = 5) -> dict:
    """Best of ``repeats`` passes."""
    wall, cpu = float("inf"), float("inf")
    function(texts[:50])  # warm: first-call costs (lazy spaCy objects) are not per message
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        function(texts)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.thread_time() - start_cpu)
    return {"messages_per_s_wall": round(len(texts) / wall, 1), "messages_per_cpu_s": round(len(texts) / cpu, 1),
            "n": len(texts)}


def run() -> dict:
    from threadpoolctl import threadpool_limits

    from classifier.run.job import CHUNK
    from classifier.training.corpus import grouped_split, load_corpus
    from classifier.training.paths import corpus_path
    from classifier.training.evaluate import short_messages
    from classifier.classify.text import model_input
    from classifier.classify.predict import Classifier

    classifier = Classifier.load()
    pipeline = classifier.model.pipeline
    dataset = load_corpus(corpus_path())
    _, held_out = grouped_split(dataset)
    held = short_messages([model_input(s, t) for s, t in zip(held_out["subject"], held_out["text"])])
    whole = short_messages([model_input(s, t) for s, t in zip(dataset["subject"], dataset["text"])])
    distinct = len({t for t in whole})

    def chunked(texts):
        for i in range(0, len(texts), CHUNK):
            classifier.classify_many(texts[i:i + CHUNK])

    with threadpool_limits(1):
        return {
            "held_out_short": {"predict_proba": best_of(pipeline.predict_proba, held),
                               "classify_many": best_of(classifier.classify_many, held),
                               "classify_many_chunks_of_256": best_of(chunked, held)},
            "corpus_short": {"predict_proba": best_of(pipeline.predict_proba, whole),
                             "classify_many_chunks_of_256": best_of(chunked, whole),
                             "distinct_texts": distinct},
            "model_card_says": json.loads((classifier.model.folder / "metrics.json").read_text())
            .get("speed", {}).get("short_messages_per_second"),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    print(json.dumps(run(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
