#!/usr/bin/env bash
# Remakes every corpus the shipped models were trained and tested on (real OpenMX 3.9 runs, the
# settings of ../shared/data: GGA-PBE, 200 Ry, SCF criterion 1e-8, 300 K, forces skipped; 3x3 k).
# Each `deeph2 dft` resumes: run it again after an interruption. Wall time on 2 cores, alone on the
# machine with one OpenMX process at a time: see the model cards (about 10 CPU-hours for the runs the shipped models used or were tested on, not every run timed; all 34 bilayers on 6x6 k add about 7).
#
#   OPENMX=/path/to/openmx DATA_PATH=/path/to/DFT_DATA19 bash examples/make_training_data.sh [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${DEEPH2_DATA:-$HOME/deeph2-data}}
openmx=${OPENMX:-$here/../../shared/tools/openmx/bin/openmx}
data=${DATA_PATH:-$(dirname "$(dirname "$openmx")")/DFT_DATA19}
common=(--openmx "$openmx" --data-path "$data" --kpts 3 3 1)
mkdir -p "$out/structures"
python - "$out/structures" <<'PY'
import sys
from ase.build import graphene, mx2
from ase.io import write
from ase_deeph2.training.structures import sliding_bilayers
folder = sys.argv[1]
write(f"{folder}/graphene.traj", graphene(a=2.46, vacuum=7.5))                 # the shared corpus' cell
write(f"{folder}/mos2.traj", mx2("MoS2", kind="2H", a=3.19, thickness=3.12, vacuum=(20 - 3.12) / 2))
write(f"{folder}/bilayer_graphene_3x3.traj", sliding_bilayers(64, seed=22))     # AA, AB, saddle, then random
PY
# graphene: new 3x3 seeds (15, held out), 4x4 (s0000-s0006 and s0010-s0023 trained on; s0007-s0009 and
# s0024-s0039 held out), 5x5 (s0000-s0002, s0006-s0013 and s0022-s0027 trained on; s0003-s0005 and
# s0014-s0021 held out), 6x6 (2, held out)
deeph2 dft "$out/structures/graphene.traj" -o "$out/graphene_3x3_k3" --supercell 3 3 1 --count 15 --seed 33 "${common[@]}"
deeph2 dft "$out/structures/graphene.traj" -o "$out/graphene_4x4" --supercell 4 4 1 --count 40 --seed 44 "${common[@]}"
deeph2 dft "$out/structures/graphene.traj" -o "$out/graphene_5x5" --supercell 5 5 1 --count 28 --seed 55 "${common[@]}"
deeph2 dft "$out/structures/graphene.traj" -o "$out/graphene_6x6" --supercell 6 6 1 --count 2 --seed 66 "${common[@]}"
# pristine graphene (no strain, no displacement) in a 3x3 cell on 3x3, 4x4 and 8x8 k and in a 4x4 cell on
# 3x3 k: do the reference blocks depend on the cell or k mesh? (benchmarks/pristine_references.py)
for run in "3 3" "3 4" "3 8" "4 3"; do
  set -- $run
  deeph2 dft "$out/structures/graphene.traj" -o "$out/graphene_pristine/${1}x${1}_k$2" --supercell "$1" "$1" 1 \
      --sigma 0 --strain 0 "${common[@]}" --kpts "$2" "$2" 1
done
# MoS2 3x3 (beside the shared mos2_3x3 corpus; s0000-s0008, s0012-s0023, s0027-s0082 trained on, s0009-s0011 and s0024-s0026 held out)
deeph2 dft "$out/structures/mos2.traj" -o "$out/mos2_3x3" --supercell 3 3 1 --count 83 --seed 2026 "${common[@]}"
# MoS2 1x1 and 2x2 (trained on), k as dense as the 3x3 cells' 3x3 mesh
mos2_small=("${common[@]:0:4}")  # --openmx, --data-path: without the 3x3 k mesh
deeph2 dft "$out/structures/mos2.traj" -o "$out/mos2_1x1" --count 8 --sigma 0.05 --strain 0.02 --seed 11 --kpts 9 9 1 "${mos2_small[@]}"
deeph2 dft "$out/structures/mos2.traj" -o "$out/mos2_2x2" --supercell 2 2 1 --count 6 --sigma 0.05 --strain 0.02 --seed 22 --kpts 5 5 1 "${mos2_small[@]}"
# bilayer graphene 3x3 (s0013-s0015 and s0032-s0033 held out, the other 29 trained on): sliding
# and interlayer distance from the trajectory, then σ = 0.05 Å, ±2 % strain
deeph2 dft "$out/structures/bilayer_graphene_3x3.traj" -o "$out/bilayer_graphene_3x3" --every 1 \
    --count 34 --sigma 0.05 --strain 0.02 --seed 22 "${common[@]}"
# the same bilayers on a 6x6 k mesh (the 3x3 mesh samples the folded Dirac points with one k point,
# which sets DFT's interlayer potential step by tens of meV), held-out cells first: the shipped model's
# last stage was trained on s0000-s0004 and s0006-s0009 (a session's worth); the rest were made a session later
deeph2 dft "$out/structures/bilayer_graphene_3x3.traj" -o "$out/bilayer_graphene_3x3_k6" --every 1 \
    --count 34 --sigma 0.05 --strain 0.02 --seed 22 --only 13-15,0-4,6-9,32-33,5,10-12,16-31 "${common[@]}" --kpts 6 6 1
# pristine primitive bilayers (AA, AB, BA, saddle, four random slidings; no displacement) on 18x18 k
python -c "from ase.io import write; from ase_deeph2.training.structures import sliding_bilayers; \
write('$out/structures/bilayer_graphene_1x1.traj', sliding_bilayers(8, seed=23, reps=(1, 1, 1)))"
deeph2 dft "$out/structures/bilayer_graphene_1x1.traj" -o "$out/bilayer_graphene_1x1_k18" "${common[@]}" --kpts 18 18 1
# held-out runs again on denser k meshes (benchmarks/kmesh_reference.py): the same openmx.dat, scf.Kgrid
# changed; the 3x3 mesh of the corpora samples the Dirac points of graphene with one k point
rerun() {  # corpus run k folder
    local d="$out/$4/$2"
    [ -f "$d/openmx.scfout" ] && return
    mkdir -p "$d"
    sed "s/^scf.Kgrid .*/scf.Kgrid $3 $3 1/" "$out/$1/runs/$2/openmx.dat" > "$d/openmx.dat"
    (cd "$d" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 \
        mpirun --oversubscribe -np 2 "$openmx" openmx.dat > openmx.std)
}
rerun graphene_3x3_k3 s0003 6 graphene_3x3_k6; rerun graphene_3x3_k3 s0003 9 graphene_3x3_k9
rerun graphene_3x3_k3 s0000 6 graphene_3x3_k6; rerun graphene_3x3_k3 s0006 6 graphene_3x3_k6
rerun graphene_4x4 s0007 6 graphene_4x4_k6
# the training folders (examples/training_folders.toml): every cell of each model's corpora except the runs
# benchmarks/held_out.toml holds out for it
python "$here/link_training_folders.py" "$out"
