"""Build script for nnfast's compiled kernels.

Every ``csrc/<name>.pyx`` becomes the extension module ``nnfast._<name>``
(``csrc/_dense.pyx`` -> ``nnfast._dense``).  OpenMP is used when the compiler
accepts ``-fopenmp``; otherwise the kernels build single-threaded.

Environment switches
--------------------
NNFAST_NATIVE=1
    Compile for the local CPU (``-march=native``) instead of a portable target.
NNFAST_DEBUG=1
    Turn Cython's bounds and wraparound checks back on (slow; for debugging).
NNFAST_OPENMP=0
    Build without OpenMP even when the compiler supports it.
NNFAST_BUILD_ONLY=_dense,_rng
    Build only the named modules (development convenience).
"""
import os
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
CSRC = "csrc"


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _compiler_accepts(compiler, flag):
    """Return True when ``compiler`` compiles and links a tiny OpenMP program with ``flag``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 0;}\n")
        try:
            objects = compiler.compile([str(src)], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objects, str(Path(tmp) / "probe"), extra_postargs=[flag])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    """Adds OpenMP and optimisation flags that the compiler actually supports."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        compile_args, link_args = [], []
        if ctype == "msvc":
            compile_args += ["/O2", "/openmp"]
        else:
            # No fused multiply-adds the source does not ask for: a compiler
            # that contracts a vector loop but not its scalar tail makes a
            # result depend on where an array lies, and instruction sets on
            # how they differ.
            compile_args += ["-O3", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-function"]
            if _flag("NNFAST_NATIVE"):
                compile_args.append("-march=native")
            if os.environ.get("NNFAST_OPENMP", "1").strip() == "0":
                sys.stderr.write("nnfast: building without OpenMP (NNFAST_OPENMP=0)\n")
            elif _compiler_accepts(self.compiler, "-fopenmp"):
                compile_args.append("-fopenmp")
                link_args.append("-fopenmp")
            else:
                sys.stderr.write("nnfast: compiler lacks OpenMP; kernels will run single-threaded\n")
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args)
            ext.extra_link_args = link_args + list(ext.extra_link_args)
        super().build_extensions()


def _extensions():
    only = {s.strip() for s in os.environ.get("NNFAST_BUILD_ONLY", "").split(",") if s.strip()}
    exts = []
    for pyx in sorted((HERE / CSRC).glob("*.pyx")):
        if only and pyx.stem not in only:
            continue
        exts.append(
            Extension(
                f"nnfast.{pyx.stem}",
                [f"{CSRC}/{pyx.name}"],
                include_dirs=[numpy.get_include(), CSRC],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
            )
        )
    debug = _flag("NNFAST_DEBUG")
    return cythonize(
        exts,
        include_path=[CSRC],
        language_level=3,
        compiler_directives={
            "boundscheck": debug,
            "wraparound": debug,
            "initializedcheck": debug,
            "cdivision": True,
            "embedsignature": True,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
