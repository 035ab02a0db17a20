"""Installs newsmon's three packages and the `newsmon` console script.

This is also the file Dataflow / Flink workers install with `--setup_file ./setup.py`.
"""

from setuptools import find_packages, setup

setup(
    name="newsmon",
    version="0.1.0",
    description="News-monitoring pipeline on Apache Beam: feeds and files to windowed Parquet",
    python_requires=">=3.10",
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "schemas", "schemas.*"]),
    package_data={"transforms": ["data/*"]},
    install_requires=[
        "apache-beam>=2.77,<2.78",
        "pyarrow>=14.0.1,<26",
        "feedparser>=6.0.11,<7",
        "spacy>=3.8,<3.9",
        "requests>=2.31",
        "trafilatura>=2.0,<3",
        "lxml_html_clean",  # trafilatura -> justext needs it with lxml>=5.2
        "markdown-it-py>=3",
        "py3langid==0.4.0",
        "python-dateutil>=2.8",
        "numpy>=1.24,<2.5",  # MinHash; Beam 2.77 wants numpy < 2.5
        "tzdata",  # Europe/Kyiv for event dates, also where the OS has no tz database
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "duckdb>=1.1",
            "ruff==0.17.5",
            "datasketch==2.0.0",
            "pillow>=10,<13",  # tests/test_report.py reads Chromium's screenshot of the report page
            "pandas>=2.2,<4",  # tests/test_readme.py runs the README's reader snippets
            "polars>=1.10,<3",
        ],
        "gcp": ["apache-beam[gcp]>=2.77,<2.78"],
    },
    entry_points={"console_scripts": ["newsmon=pipeline.cli:main"]},
)
