"""The README's table of modules names every module of every service."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_service_module_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    modules = [
        path.relative_to(ROOT).as_posix()
        for package in (ROOT / "services").glob("*/*/__init__.py")
        for path in package.parent.rglob("*.py")
        if path != package
    ]
    assert len(modules) > 50
    missing = sorted(m for m in modules if f"`{m}`" not in readme)
    assert not missing, f"add to the README's module table: {missing}"
