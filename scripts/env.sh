# Sourced by the scripts: environment for running dtrain under Open MPI here.
# One compute thread per rank (--threads sets oneDNN's and OpenBLAS's; this
# keeps OpenBLAS from starting a pool of its own at load); Open MPI
# refuses to run as root without these two variables (CI runs as root).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Ranks may outnumber cores (tests run at up to 4 ranks on 2 cores).
export OMPI_MCA_rmaps_base_oversubscribe=1
