#!/usr/bin/env python3
"""Cross-check Hypervision's JSON Patch diff against an independent RFC 6902 implementation.

Usage: scripts/check-json-patch.py CORPUS.jsonl [--write-foreign FOREIGN.jsonl]

Each line of CORPUS is {"from": doc, "to": doc, "patch": [RFC 6902 operations]}, written by the
Swift test JSONPatchTests.writeCrossCheckCorpus when HYPERVISION_PATCH_CORPUS=CORPUS is set.
For every line, Python's `jsonpatch` (pip install jsonpatch) applies the patch to "from" and the
result must equal "to": this is DESIGN.md's promise that any RFC 6902 library reproduces the
scene. Exits 0 when all lines pass, 1 on a mismatch (the first few are printed), 2 on bad usage
or a missing/empty corpus.

With --write-foreign, it also writes FOREIGN.jsonl: the same documents with the patch that
`jsonpatch.make_patch` computes (it uses move and copy, which our diff never emits). The Swift test
JSONPatchTests.applyForeignCorpus applies those with HYPERVISION_PATCH_FOREIGN_CORPUS=FOREIGN set,
which checks our apply against an independent diff.
"""
import json
import sys

try:
    import jsonpatch
except ImportError:
    sys.exit("check-json-patch: the Python package 'jsonpatch' is missing (pip install jsonpatch)")


def same(a, b):
    """JSON equality: like ==, but True and 1 differ (Python conflates bool and int)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) in (int, float) and type(b) in (int, float) and a == b or a == b and type(a) is type(b)


def main(argv):
    foreign_path = None
    if len(argv) == 4 and argv[2] == "--write-foreign":
        foreign_path = argv[3]
    elif len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    foreign = open(foreign_path, "w", encoding="utf-8") if foreign_path else None
    checked = failed = 0
    with open(argv[1], encoding="utf-8") as corpus:
        for number, line in enumerate(corpus, 1):
            if not line.strip():
                continue
            case = json.loads(line)
            checked += 1
            if foreign:
                theirs = jsonpatch.make_patch(case["from"], case["to"]).patch
                foreign.write(json.dumps({"from": case["from"], "to": case["to"], "patch": theirs}, ensure_ascii=False))
                foreign.write("\n")
            try:
                result = jsonpatch.apply_patch(case["from"], case["patch"])
            except Exception as error:  # noqa: BLE001 - any failure is a finding
                result = error
            if isinstance(result, Exception) or not same(result, case["to"]):
                failed += 1
                if failed <= 5:
                    print(f"line {number}: applying the patch does not give 'to'", file=sys.stderr)
                    print(f"  from:   {json.dumps(case['from'], ensure_ascii=False)}", file=sys.stderr)
                    print(f"  patch:  {json.dumps(case['patch'], ensure_ascii=False)}", file=sys.stderr)
                    print(f"  to:     {json.dumps(case['to'], ensure_ascii=False)}", file=sys.stderr)
                    print(f"  result: {result!r}", file=sys.stderr)
    if foreign:
        foreign.close()
    if checked == 0:
        print(f"check-json-patch: {argv[1]} holds no cases", file=sys.stderr)
        return 2
    print(f"check-json-patch: {checked - failed}/{checked} patches agree with jsonpatch {jsonpatch.__version__}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
