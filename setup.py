"""tfgancomp: learned, GAN-based lossy image compression (TF 2 / Keras)."""

from setuptools import find_packages, setup

setup(
    name="tfgancomp",
    version="0.1.0",
    description="Learned, GAN-based lossy image compression with "
                "TensorFlow 2, Keras and tensorflow-compression",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9,<3.12",
    packages=find_packages(include=["tfgancomp", "tfgancomp.*"]),
    include_package_data=True,
    package_data={"tfgancomp": ["pretrained/**/*", "presets/*.json",
                                "samples/*", "serve/static/*"]},
    install_requires=[
        # tensorflow-compression's last release works only with TF 2.14.
        "tensorflow==2.14.1",
        "tensorflow-compression==2.14.1",
        "tensorflow-probability==0.22.1",
        # 4.9.5+ imports protobuf's runtime_version, which TF 2.14's
        # protobuf (< 5) lacks; tensorflow-metadata 1.15+ needs it too.
        "tensorflow-datasets==4.9.4",
        "tensorflow-metadata==1.13.1",
        # 1.13.1 is the newest tensorflow-metadata that allows protobuf 4:
        # its C (upb) backend builds TF graphs far faster than the pure-
        # Python protobuf 3.20 that tensorflow-metadata 1.14 forces.
        "protobuf>=4.25,<5",
        "numpy>=1.23.5,<2",  # TF 2.14 is built against NumPy 1.x
        "pillow>=10.1",
        "absl-py>=1.0",
    ],
    extras_require={
        "jxl": ["pillow-jxl-plugin>=1.3"],  # JPEG XL in `evaluate`
        "plot": ["matplotlib>=3.7"],  # `evaluate --plot`
        # `tfgancomp serve`: the HTTP service and its page.
        "serve": ["fastapi>=0.110", "uvicorn>=0.29",
                  "python-multipart>=0.0.9"],
        # SciPy cross-checks the BD-rate interpolation and FID's matrix root;
        # httpx drives the service's ASGI test client, selenium the
        # browser test (Debian's chromium and chromium-driver).
        "test": ["pytest>=7", "pillow-jxl-plugin>=1.3", "matplotlib>=3.7",
                 "scipy>=1.9", "fastapi>=0.110", "uvicorn>=0.29",
                 "python-multipart>=0.0.9", "httpx>=0.27",
                 "selenium>=4.11"],
    },
    entry_points={"console_scripts": ["tfgancomp = tfgancomp.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
