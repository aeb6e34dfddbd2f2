#!/usr/bin/env bash
# --save writes the documented HDF5 layout; --init-from reads it back.
source "$(dirname "$0")/lib.sh"

M=$TMP/model.h5
run 2 120 train --data "$DATA/iris.h5" --layers 16:tanh,8:leaky_relu=0.2 --optimizer adam --lr 0.01 --epochs 30 --batch-size 16 --save "$M"
[[ $status -eq 0 && -f $M ]] && pass "model saved" || fail "save failed: $err"
acc=$(final_metric test_accuracy)

dump=$(h5dump -H "$M")
for want in 'GROUP "layer0"' 'DATASET "weight"' 'DATASET "bias"' 'ATTRIBUTE "activation"' \
            'ATTRIBUTE "output"' 'GROUP "normalization"' 'GROUP "config"'; do
  grep -qF "$want" <<<"$dump" && pass "layout has $want" || fail "layout lacks $want"
done
# weight is (out, in) like torch.nn.Linear.weight: layer0 16 x 4, layer2 3 x 8
h5dump -H -d /model/layer0/weight "$M" | grep -q 'DATASPACE  SIMPLE { ( 16, 4 )' && pass "layer0/weight is 16 x 4" || fail "layer0/weight shape"
h5dump -H -d /model/layer2/weight "$M" | grep -q 'DATASPACE  SIMPLE { ( 3, 8 )' && pass "layer2/weight is 3 x 8" || fail "layer2/weight shape"
h5dump -a /model/layer1/activation "$M" | grep -q '"leaky_relu=0.2"' && pass "activation attribute" || fail "activation attribute"
h5dump -a /model/output "$M" | grep -q '"softmax"' && pass "output attribute" || fail "output attribute"
h5dump -a /config/lr "$M" | grep -q '"0.01"' && pass "config saved" || fail "config lr"

# Starting from the saved weights with a learning rate of ~1e-18 for one epoch
# leaves them as they were: the test accuracy must be the saved model's.
run 2 120 train --data "$DATA/iris.h5" --layers 16:tanh,8:leaky_relu=0.2 --optimizer sgd --lr 1e-18 --epochs 1 --batch-size 16 --init-from "$M"
again=$(final_metric test_accuracy)
[[ -n "$acc" && "$again" == "$acc" ]] && pass "--init-from restores the weights (accuracy $acc)" || fail "--init-from: accuracy '$again' vs saved '$acc'"
run 1 120 train --data "$DATA/iris.h5" --layers 16:tanh,8:leaky_relu=0.2 --optimizer sgd --lr 1e-18 --epochs 1 --batch-size 16 --init-from "$M" --seed 99
[[ "$(final_metric test_accuracy)" == "$acc" ]] && pass "--init-from ignores --init and --seed for weights" || fail "--init-from with another seed"

# Saving over an existing model replaces it atomically (no temporary left).
run 2 120 train --data "$DATA/iris.h5" --layers 4:relu --epochs 1 --save "$M"
[[ $status -eq 0 ]] && h5dump -H -d /model/layer0/weight "$M" | grep -q '( 4, 4 )' && pass "overwrite" || fail "overwrite"
ls "$TMP" | grep -q tmp && fail "temporary file left behind: $(ls "$TMP")" || pass "no temporary left"
finish
