"""Installs the ``lenetc`` package with its Jinja2 templates and hand-written C as package data."""

from setuptools import find_packages, setup

setup(
    name="lenetc",
    version="0.1.0",
    description="Compile trained LeNet-family networks to small, fast, checked C99",
    python_requires=">=3.10",
    # templates/ and csrc/ sit beside the package in the source tree and install inside it.
    packages=[*find_packages(include=["lenetc", "lenetc.*"]), "lenetc.templates", "lenetc.csrc"],
    package_dir={"lenetc.templates": "templates", "lenetc.csrc": "csrc"},
    package_data={
        "lenetc.templates": ["*.j2", "**/*.j2", "**/*.ld", "**/*.s", "**/*.txt"],
        "lenetc.csrc": ["*.h", "*.c", "**/*.h", "**/*.c"],
        # a CPU family's folder: its primitives header(s) and kernel templates beside its Python
        "lenetc": [
            "weights/*.npz",
            "weights/*.md",
            "data/*",
            "samples/*",
            "families/*/*.h",
            "families/*/kernels/**/*.j2",
        ],
    },
    install_requires=["numpy>=1.23", "cffi>=1.15", "jinja2>=3.0", "tqdm>=4.0", "pillow>=9"],
    extras_require={
        "onnx": ["onnx>=1.14", "onnxruntime>=1.16"],
        "keras": ["h5py>=3"],
        "plot": ["matplotlib>=3.5"],
        # .tflite import (the schema's generated reader) and verify --against tflm|litert
        "tflite": ["tflite>=2.10", "flatbuffers>=2", "tflite-micro", "ai-edge-litert"],
        # lenetc npu: Arm's Vela compiler for the Ethos-U NPUs
        "npu": ["ethos-u-vela>=4"],
        # the test suite exercises every optional feature, so it installs every extra
        "test": [
            "pytest>=7",
            "pytest-xdist>=3",
            "ruff",
            "wheel",
            "onnx>=1.14",
            "onnxruntime>=1.16",
            "h5py>=3",
            "pillow>=9",
            "matplotlib>=3.5",
            # Keras 3 itself writes the .keras fixtures of test_keras3_files.py (jax: the lightest backend)
            "keras>=3",
            "jax",
            # the TFLite tests run the real TFLM and LiteRT interpreters on the fixtures
            "tflite>=2.10",
            "flatbuffers>=2",
            "tflite-micro",
            "ai-edge-litert",
            "ethos-u-vela>=4",
        ],
    },
    entry_points={"console_scripts": ["lenetc=lenetc.cli:main"]},
)
