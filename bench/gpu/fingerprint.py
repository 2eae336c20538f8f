"""Prints a SHA-256 over the sources bundled into bench-node.mjs (prepare.sh stores it in the payload;
run.sh compares it with the checkout, so a payload built from other sources is refused, not measured)."""
import hashlib
import pathlib
import sys

ROOTS = ["src", "shaders", "bench/lib", "bench/node.ts", "bench/vite.node.config.ts", "package-lock.json"]


def fingerprint(repo: pathlib.Path) -> str:
    h = hashlib.sha256()
    for root in ROOTS:
        p = repo / root
        files = sorted(f for f in (p.rglob("*") if p.is_dir() else [p]) if f.is_file())
        for f in files:
            h.update(str(f.relative_to(repo)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


if __name__ == "__main__":
    print(fingerprint(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
