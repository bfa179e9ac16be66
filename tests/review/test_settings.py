"""The review's settings: where Rasa's tracker store is, and what counts as low confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.run import rasa_endpoints
from bot.settings import ConfigError, Settings


def test_by_default_the_review_reads_the_tracker_store_rasa_is_given(tmp_path: Path) -> None:
    settings = Settings.from_env({"REFUNDBOT_VAR_DIR": str(tmp_path)})

    assert settings.tracker_store == f"sqlite:///{tmp_path / 'rasa-tracker.db'}"
    assert rasa_endpoints(settings)["tracker_store"]["db"] == str(tmp_path / "rasa-tracker.db")
    assert settings.nlu_review_confidence == 0.7


def test_a_tracker_store_url_and_a_threshold_are_taken(tmp_path: Path) -> None:
    url = "postgresql://bot@db.internal/tracker"
    settings = Settings.from_env(
        {
            "REFUNDBOT_VAR_DIR": str(tmp_path),
            "REFUNDBOT_TRACKER_STORE_URL": url,
            "REFUNDBOT_NLU_REVIEW_CONFIDENCE": "0.85",
        }
    )

    assert settings.tracker_store == url
    assert settings.nlu_review_confidence == 0.85


@pytest.mark.parametrize("value", ["1.5", "-0.1", "most"])
def test_a_threshold_that_is_no_confidence_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="REFUNDBOT_NLU_REVIEW_CONFIDENCE"):
        Settings.from_env(
            {"REFUNDBOT_VAR_DIR": str(tmp_path), "REFUNDBOT_NLU_REVIEW_CONFIDENCE": value}
        )
