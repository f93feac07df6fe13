"""The README documents what the code reads: every setting, both quick-start commands."""

from streams.settings import REPO_ROOT, Settings

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table():
    missing = [f"GEOMON_{name.upper()}" for name in Settings.model_fields
               if f"`GEOMON_{name.upper()}`" not in README]
    assert not missing, f"document these in README.md: {missing}"


def test_quick_start_has_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick
