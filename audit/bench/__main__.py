"""Runs every benchmark section and prints its measurements side by side."""

from __future__ import annotations

from audit.bench import collector, exposure, large


def main() -> None:
    sections = [
        ("collector", collector.run),
        ("100,000-VM fleet: evaluation and reports", large.run),
        ("daily observations: period figures and history size", exposure.run),
    ]
    for title, section in sections:
        print(f"== {title}")
        for label, value in section():
            print(f"{label:<72} {value:>14}")


if __name__ == "__main__":
    main()
