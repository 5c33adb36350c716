"""Installs the ``lenetc`` package with its Jinja2 templates and hand-written C as package data."""

from setuptools import setup

setup(
    name="lenetc",
    version="0.1.0",
    description="Compile trained LeNet-family networks to small, fast, checked C99",
    python_requires=">=3.10",
    packages=["lenetc", "lenetc.codegen", "lenetc.train", "lenetc.templates", "lenetc.templates.layers", "lenetc.csrc"],
    package_dir={
        "lenetc.templates": "templates",
        "lenetc.templates.layers": "templates/layers",
        "lenetc.csrc": "csrc",
    },
    package_data={
        "lenetc.templates": ["*.j2"],
        "lenetc.templates.layers": ["*.j2"],
        "lenetc.csrc": ["*.h", "*.c"],
        "lenetc": ["weights/*.npz", "weights/*.md", "data/*", "samples/*"],
    },
    install_requires=["numpy>=1.23", "cffi>=1.15", "jinja2>=3.0", "tqdm>=4.0"],
    extras_require={
        "test": ["pytest>=7", "ruff"],
        "images": ["pillow>=9"],
        "plot": ["matplotlib>=3.5"],
    },
    entry_points={"console_scripts": ["lenetc=lenetc.cli:main"]},
)
