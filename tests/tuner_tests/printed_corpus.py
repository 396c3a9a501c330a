"""Printed output of real training libraries, each block with the metric rows it must yield: the data the
printed-metrics rules (tuner/capture/stdout_metrics.py) are built from and tested against (test_printed_corpus.py).

Captured blocks are the bytes the library wrote to a pipe (read with newline="" so every \\r and \\b is kept),
made on this project's machine with the versions named in each block's `source`; the scripts that made them
printed 256-400 random samples through a tiny model. Written-down blocks copy a library's format from its source
(the file named in `source`) where the library is not installed here. A block's `completed` is False when the
output was cut where the run was stopped or killed: what was still open then must not become a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BS = "\x08"  # Keras erases its previous progress line with backspaces before each \r
NAN = math.nan


@dataclass(frozen=True)
class Block:
    name: str
    source: str
    text: str
    rows: list[dict[str, Any]]
    evaluation: dict[str, Any] = field(default_factory=dict)
    completed: bool = True
    ignore: tuple[str, ...] = ()   # the run's flag names
    #: lines before the first step become numbered rows while no step has come, then are dropped: rows written
    #: live are not all final rows
    retracts: bool = False


# ---------------------------------------------------------------------------------------------------
# Captured output (Keras 3.15.1 / TensorFlow 2.21, tqdm 4.70.1, LightGBM 4.7.0, XGBoost 3.2.0, scikit-learn 1.9.1,
# CatBoost 1.2.10)

KERAS1 = "".join((
    'Training model with learning rate=0.04 for 3 epochs.\n',
    'Data size: 256 samples\n',
    'batch size=32\n',
    'Epoch 1/3\n',
    '\r\x1b[1m 1/24\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m39s\x1b[0m 2s/step - accuracy: 0.6250 - loss: 0.6549' + BS * 72,
    '\r\x1b[1m24/24\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 25ms/step - accuracy: 0.6771 - loss: 0.6145 - val_accuracy: 0.7969 - val_loss: 0.5233\n',
    'Epoch 2/3\n',
    '\r\x1b[1m 1/24\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m13s\x1b[0m 572ms/step - accuracy: 0.6250 - loss: 0.7183' + BS * 75,
    '\r\x1b[1m24/24\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 9ms/step - accuracy: 0.7604 - loss: 0.5465 - val_accuracy: 0.8594 - val_loss: 0.4651\n',
    'Epoch 3/3\n',
    '\r\x1b[1m 1/24\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 42ms/step - accuracy: 0.8750 - loss: 0.4523' + BS * 73,
    '\r\x1b[1m24/24\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 8ms/step - accuracy: 0.8073 - loss: 0.4827 - val_accuracy: 0.9062 - val_loss: 0.4094\n',
    '\r\x1b[1m1/8\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m5s\x1b[0m 779ms/step - accuracy: 0.8750 - loss: 0.4315' + BS * 72,
    '\r\x1b[1m8/8\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 16ms/step - accuracy: 0.8555 - loss: 0.4394 \n',
    'Test accuracy: 0.8555\n',
))

KERAS2 = "".join((
    'Training model with learning rate=0.04 for 3 epochs.\n',
    'Data size: 256 samples\n',
    'batch size=32\n',
    'Epoch 1/3\n',
    '24/24 - 1s - 60ms/step - accuracy: 0.5417 - loss: 0.6802 - val_accuracy: 0.7031 - val_loss: 0.6045\n',
    'Epoch 2/3\n',
    '24/24 - 0s - 7ms/step - accuracy: 0.7500 - loss: 0.5876 - val_accuracy: 0.8281 - val_loss: 0.5349\n',
    'Epoch 3/3\n',
    '24/24 - 0s - 15ms/step - accuracy: 0.8125 - loss: 0.5137 - val_accuracy: 0.8750 - val_loss: 0.4737\n',
    '8/8 - 0s - 42ms/step - accuracy: 0.8633 - loss: 0.4751\n',
    'Test accuracy: 0.8633\n',
))

KERAS_SLOW = "".join((
    'Epoch 1/2\n',
    '\r\x1b[1m 1/12\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m3s\x1b[0m 358ms/step - accuracy: 1.0000 - loss: 0.2403' + BS * 74,
    '\r\x1b[1m 3/12\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 34ms/step - accuracy: 0.7083 - loss: 0.5847 ' + BS * 73,
    '\r\x1b[1m 5/12\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 36ms/step - accuracy: 0.7250 - loss: 0.5878' + BS * 73,
    '\r\x1b[1m 7/12\x1b[0m \x1b[32m━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 38ms/step - accuracy: 0.6429 - loss: 0.7053' + BS * 73,
    '\r\x1b[1m 9/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 37ms/step - accuracy: 0.6111 - loss: 0.7142' + BS * 73,
    '\r\x1b[1m11/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━\x1b[0m \x1b[1m0s\x1b[0m 36ms/step - accuracy: 0.6023 - loss: 0.7113' + BS * 73,
    '\r\x1b[1m12/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 41ms/step - accuracy: 0.6042 - loss: 0.6977\n',
    'Epoch 2/2\n',
    '\r\x1b[1m 1/12\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 167ms/step - accuracy: 0.3750 - loss: 1.0218' + BS * 74,
    '\r\x1b[1m 3/12\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step - accuracy: 0.5000 - loss: 0.7936 ' + BS * 73,
    '\r\x1b[1m 5/12\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step - accuracy: 0.5500 - loss: 0.7092' + BS * 73,
    '\r\x1b[1m 7/12\x1b[0m \x1b[32m━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step - accuracy: 0.6071 - loss: 0.6535' + BS * 73,
    '\r\x1b[1m 9/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step - accuracy: 0.6250 - loss: 0.6549' + BS * 73,
    '\r\x1b[1m11/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step - accuracy: 0.6364 - loss: 0.6478' + BS * 73,
    '\r\x1b[1m12/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 37ms/step - accuracy: 0.6250 - loss: 0.6808\n',
))

TQ_PEREPOCH = "".join((
    '\rEpoch 1:   0%|          | 0/5 [00:00<?, ?it/s]',
    '\rEpoch 1:   0%|          | 0/5 [00:00<?, ?it/s, loss=1]',
    '\rEpoch 1:  20%|██        | 1/5 [00:00<00:00, 97.49it/s, loss=1]',
    '\rEpoch 1:  20%|██        | 1/5 [00:00<00:00, 97.49it/s, loss=0.5]',
    '\rEpoch 1:  40%|████      | 2/5 [00:00<00:00, 74.02it/s, loss=0.5]',
    '\rEpoch 1:  40%|████      | 2/5 [00:00<00:00, 74.02it/s, loss=0.333]',
    '\rEpoch 1:  60%|██████    | 3/5 [00:00<00:00, 82.68it/s, loss=0.333]',
    '\rEpoch 1:  60%|██████    | 3/5 [00:00<00:00, 82.68it/s, loss=0.25] ',
    '\rEpoch 1:  80%|████████  | 4/5 [00:00<00:00, 87.48it/s, loss=0.25]',
    '\rEpoch 1:  80%|████████  | 4/5 [00:00<00:00, 87.48it/s, loss=0.2] ',
    '\rEpoch 1: 100%|██████████| 5/5 [00:00<00:00, 90.67it/s, loss=0.2]',
    '\rEpoch 1: 100%|██████████| 5/5 [00:00<00:00, 87.29it/s, loss=0.2]\n',
    '\rEpoch 2:   0%|          | 0/5 [00:00<?, ?it/s]',
    '\rEpoch 2:   0%|          | 0/5 [00:00<?, ?it/s, loss=0.167]',
    '\rEpoch 2:  20%|██        | 1/5 [00:00<00:00, 97.60it/s, loss=0.167]',
    '\rEpoch 2:  20%|██        | 1/5 [00:00<00:00, 97.60it/s, loss=0.143]',
    '\rEpoch 2:  40%|████      | 2/5 [00:00<00:00, 97.11it/s, loss=0.143]',
    '\rEpoch 2:  40%|████      | 2/5 [00:00<00:00, 97.11it/s, loss=0.125]',
    '\rEpoch 2:  60%|██████    | 3/5 [00:00<00:00, 96.55it/s, loss=0.125]',
    '\rEpoch 2:  60%|██████    | 3/5 [00:00<00:00, 96.55it/s, loss=0.111]',
    '\rEpoch 2:  80%|████████  | 4/5 [00:00<00:00, 96.55it/s, loss=0.111]',
    '\rEpoch 2:  80%|████████  | 4/5 [00:00<00:00, 96.55it/s, loss=0.1]  ',
    '\rEpoch 2: 100%|██████████| 5/5 [00:00<00:00, 96.36it/s, loss=0.1]',
    '\rEpoch 2: 100%|██████████| 5/5 [00:00<00:00, 96.35it/s, loss=0.1]\n',
))

TQ_PLAIN = "".join((
    '\r  0%|          | 0/4 [00:00<?, ?it/s]',
    '\r 25%|██▌       | 1/4 [00:00<00:00, 98.75it/s]',
    '\r 25%|██▌       | 1/4 [00:00<00:00, 98.75it/s, acc=0.8, loss=0.5]',
    '\r 50%|█████     | 2/4 [00:00<00:00, 94.37it/s, acc=0.8, loss=0.5]',
    '\r 50%|█████     | 2/4 [00:00<00:00, 94.37it/s, acc=0.8, loss=0.49]',
    '\r 75%|███████▌  | 3/4 [00:00<00:00, 88.93it/s, acc=0.8, loss=0.49]',
    '\r 75%|███████▌  | 3/4 [00:00<00:00, 88.93it/s, acc=0.8, loss=0.48]',
    '\r100%|██████████| 4/4 [00:00<00:00, 91.24it/s, acc=0.8, loss=0.48]',
    '\r100%|██████████| 4/4 [00:00<00:00, 91.24it/s, acc=0.8, loss=0.47]',
    '\r100%|██████████| 4/4 [00:00<00:00, 90.84it/s, acc=0.8, loss=0.47]\n',
    '\r  0%|          | 0/4 [00:00<?, ?it/s]',
    '\r 25%|██▌       | 1/4 [00:00<00:00, 98.80it/s]',
    '\r 25%|██▌       | 1/4 [00:00<00:00, 98.80it/s, acc=0.8, loss=0.4]',
    '\r 50%|█████     | 2/4 [00:00<00:00, 96.93it/s, acc=0.8, loss=0.4]',
    '\r 50%|█████     | 2/4 [00:00<00:00, 96.93it/s, acc=0.8, loss=0.39]',
    '\r 75%|███████▌  | 3/4 [00:00<00:00, 96.55it/s, acc=0.8, loss=0.39]',
    '\r 75%|███████▌  | 3/4 [00:00<00:00, 96.55it/s, acc=0.8, loss=0.38]',
    '\r100%|██████████| 4/4 [00:00<00:00, 96.23it/s, acc=0.8, loss=0.38]',
    '\r100%|██████████| 4/4 [00:00<00:00, 96.23it/s, acc=0.8, loss=0.37]',
    '\r100%|██████████| 4/4 [00:00<00:00, 95.64it/s, acc=0.8, loss=0.37]\n',
))

TQ_RESET = "".join((
    '\r  0%|          | 0/4 [00:00<?, ?it/s]',
    '\r  0%|          | 0/4 [00:00<?, ?it/s]',
    '\rEpoch 0:   0%|          | 0/4 [00:00<?, ?it/s]',
    '\rEpoch 0:  25%|██▌       | 1/4 [00:00<00:00, 97.62it/s]',
    '\rEpoch 0:  25%|██▌       | 1/4 [00:00<00:00, 97.62it/s, train_loss=0.900, v_num=0]',
    '\rEpoch 0:  50%|█████     | 2/4 [00:00<00:00, 82.20it/s, train_loss=0.900, v_num=0]',
    '\rEpoch 0:  50%|█████     | 2/4 [00:00<00:00, 82.20it/s, train_loss=0.850, v_num=0]',
    '\rEpoch 0:  75%|███████▌  | 3/4 [00:00<00:00, 79.83it/s, train_loss=0.850, v_num=0]',
    '\rEpoch 0:  75%|███████▌  | 3/4 [00:00<00:00, 79.83it/s, train_loss=0.800, v_num=0]',
    '\rEpoch 0: 100%|██████████| 4/4 [00:00<00:00, 85.01it/s, train_loss=0.800, v_num=0]',
    '\rEpoch 0: 100%|██████████| 4/4 [00:00<00:00, 85.01it/s, train_loss=0.750, v_num=0]',
    '\rEpoch 0: 100%|██████████| 4/4 [00:00<00:00, 85.01it/s, train_loss=0.750, v_num=0, val_loss=0.800]',
    '\rEpoch 0:   0%|          | 0/4 [00:00<?, ?it/s, train_loss=0.750, v_num=0, val_loss=0.800]        ',
    '\rEpoch 1:   0%|          | 0/4 [00:00<?, ?it/s, train_loss=0.750, v_num=0, val_loss=0.800]',
    '\rEpoch 1:  25%|██▌       | 1/4 [00:00<00:00, 97.78it/s, train_loss=0.750, v_num=0, val_loss=0.800]',
    '\rEpoch 1:  25%|██▌       | 1/4 [00:00<00:00, 97.78it/s, train_loss=0.700, v_num=0]                ',
    '\rEpoch 1:  50%|█████     | 2/4 [00:00<00:00, 96.42it/s, train_loss=0.700, v_num=0]',
    '\rEpoch 1:  50%|█████     | 2/4 [00:00<00:00, 96.42it/s, train_loss=0.650, v_num=0]',
    '\rEpoch 1:  75%|███████▌  | 3/4 [00:00<00:00, 95.39it/s, train_loss=0.650, v_num=0]',
    '\rEpoch 1:  75%|███████▌  | 3/4 [00:00<00:00, 95.39it/s, train_loss=0.600, v_num=0]',
    '\rEpoch 1: 100%|██████████| 4/4 [00:00<00:00, 88.78it/s, train_loss=0.600, v_num=0]',
    '\rEpoch 1: 100%|██████████| 4/4 [00:00<00:00, 88.78it/s, train_loss=0.550, v_num=0]',
    '\rEpoch 1: 100%|██████████| 4/4 [00:00<00:00, 88.78it/s, train_loss=0.550, v_num=0, val_loss=0.600]',
    '\rEpoch 1: 100%|██████████| 4/4 [00:00<00:00, 90.29it/s, train_loss=0.550, v_num=0, val_loss=0.600]\n',
))

TQ_WRITE = "".join((
    '\r  0%|          | 0/4 [00:00<?, ?it/s]',
    '\r 25%|██▌       | 1/4 [00:00<00:00, 98.81it/s]',
    '\r 50%|█████     | 2/4 [00:00<00:00, 97.58it/s]',
    '\r                                             ',
    "\r{'loss': 0.6831, 'grad_norm': 1.2345, 'learning_rate': 4e-05, 'epoch': 0.5}\n",
    '\r 50%|█████     | 2/4 [00:00<00:00, 97.58it/s]',
    '\r 75%|███████▌  | 3/4 [00:00<00:00, 86.31it/s]',
    '\r100%|██████████| 4/4 [00:00<00:00, 85.15it/s]',
    '\r                                             ',
    "\r{'loss': 0.6631, 'grad_norm': 1.2345, 'learning_rate': 4e-05, 'epoch': 1.0}\n",
    '\r100%|██████████| 4/4 [00:00<00:00, 85.15it/s]',
    '\r100%|██████████| 4/4 [00:00<00:00, 86.82it/s]\n',
))

LGB = "".join((
    '[LightGBM] [Info] Auto-choosing col-wise multi-threading, the overhead of testing was 0.096883 seconds.\n',
    'You can set `force_col_wise=true` to remove the overhead.\n',
    '[LightGBM] [Info] Total Bins 505\n',
    '[LightGBM] [Info] Number of data points in the train set: 300, number of used features: 5\n',
    '[LightGBM] [Info] Start training from score -0.176752\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    "Training until validation scores don't improve for 3 rounds\n",
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    "[5]\ttraining's l2: 0.190985\ttraining's l1: 0.272487\tvalid_1's l2: 0.326683\tvalid_1's l1: 0.325154\n",
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    "[10]\ttraining's l2: 0.0851634\ttraining's l1: 0.144557\tvalid_1's l2: 0.188071\tvalid_1's l1: 0.217175\n",
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    '[LightGBM] [Warning] No further splits with positive gain, best gain: -inf\n',
    'Early stopping, best iteration is:\n',
    "[10]\ttraining's l2: 0.0851634\ttraining's l1: 0.144557\tvalid_1's l2: 0.188071\tvalid_1's l1: 0.217175\n",
))

LGBSK = "".join((
    "/usr/lib/python3/dist-packages/lightgbm/sklearn.py:1106: LGBMDeprecationWarning: The argument 'eval_set' is deprecated, use 'eval_X' and 'eval_y' instead.\n",
    '  eval_set = _validate_eval_set_Xy(eval_set=eval_set, eval_X=eval_X, eval_y=eval_y)\n',
    "[2]\tvalid_0's binary_logloss: 0.526393\n",
    "[4]\tvalid_0's binary_logloss: 0.414188\n",
    "[6]\tvalid_0's binary_logloss: 0.330513\n",
))

XGB = "".join((
    '[0]\ttrain-rmse:1.36564\ttrain-mae:1.09020\teval-rmse:1.58216\teval-mae:1.26897\n',
    '[1]\ttrain-rmse:0.98967\ttrain-mae:0.77710\teval-rmse:1.16934\teval-mae:0.91736\n',
    '[2]\ttrain-rmse:0.72128\ttrain-mae:0.55499\teval-rmse:0.87000\teval-mae:0.65873\n',
    '[3]\ttrain-rmse:0.52974\ttrain-mae:0.39827\teval-rmse:0.66117\teval-mae:0.48166\n',
    '[4]\ttrain-rmse:0.39264\ttrain-mae:0.28694\teval-rmse:0.50937\teval-mae:0.35238\n',
    '[5]\ttrain-rmse:0.29504\ttrain-mae:0.20797\teval-rmse:0.40318\teval-mae:0.26027\n',
))

XGBSK = "".join((
    '[0]\tvalidation_0-logloss:0.44363\tvalidation_1-logloss:0.44665\n',
    '[1]\tvalidation_0-logloss:0.30745\tvalidation_1-logloss:0.31167\n',
    '[2]\tvalidation_0-logloss:0.22122\tvalidation_1-logloss:0.22636\n',
    '[3]\tvalidation_0-logloss:0.16330\tvalidation_1-logloss:0.16918\n',
))

MLP = "".join((
    'Iteration 1, loss = 0.80592779\n',
    'Validation score: 0.200000\n',
    'Iteration 2, loss = 0.80308994\n',
    'Validation score: 0.200000\n',
    'Iteration 3, loss = 0.80047208\n',
    'Validation score: 0.200000\n',
    'Iteration 4, loss = 0.79782979\n',
    'Validation score: 0.200000\n',
    "/usr/lib/python3/dist-packages/sklearn/neural_network/_multilayer_perceptron.py:785: ConvergenceWarning: Stochastic Optimizer: Maximum iterations (4) reached and the optimization hasn't converged yet.\n",
    '  warnings.warn(\n',
))

MLP2 = "".join((
    'Iteration 1, loss = 2.33420537\n',
    'Iteration 2, loss = 2.32200867\n',
    'Iteration 3, loss = 2.30992037\n',
    "/usr/lib/python3/dist-packages/sklearn/neural_network/_multilayer_perceptron.py:785: ConvergenceWarning: Stochastic Optimizer: Maximum iterations (3) reached and the optimization hasn't converged yet.\n",
    '  warnings.warn(\n',
))

SGD = "".join((
    '-- Epoch 1\n',
    'Norm: 73.87, NNZs: 5, Bias: -0.772886, T: 300, Avg. loss: 1.082403, Objective: 1.267032\n',
    'Total training time: 0.00 seconds.\n',
    '-- Epoch 2\n',
    'Norm: 75.81, NNZs: 5, Bias: -7.006065, T: 600, Avg. loss: 0.593887, Objective: 0.882858\n',
    'Total training time: 0.00 seconds.\n',
    '-- Epoch 3\n',
    'Norm: 68.62, NNZs: 5, Bias: -6.094763, T: 900, Avg. loss: 0.472220, Objective: 0.737139\n',
    'Total training time: 0.00 seconds.\n',
    '/usr/lib/python3/dist-packages/sklearn/linear_model/_stochastic_gradient.py:741: ConvergenceWarning: Maximum number of iteration reached before convergence. Consider increasing max_iter to improve the fit.\n',
    '  warnings.warn(\n',
))

GBR = "".join((
    '      Iter       Train Loss   Remaining Time \n',
    '         1           2.9262            0.02s\n',
    '         2           2.3890            0.01s\n',
    '         3           1.9508            0.00s\n',
))

MLPSTOP = "".join((
    'Iteration 1, loss = 0.79244723\n',
    'Validation score: 0.533333\n',
    'Iteration 2, loss = 0.68007138\n',
    'Validation score: 0.600000\n',
    'Iteration 3, loss = 0.61302404\n',
    'Validation score: 0.666667\n',
    'Iteration 4, loss = 0.55210885\n',
    'Validation score: 0.766667\n',
    'Iteration 5, loss = 0.49119780\n',
    'Validation score: 0.833333\n',
    'Iteration 6, loss = 0.42725419\n',
    'Validation score: 0.833333\n',
    'Iteration 7, loss = 0.35915918\n',
    'Validation score: 0.866667\n',
    'Iteration 8, loss = 0.28965350\n',
    'Validation score: 0.933333\n',
    'Iteration 9, loss = 0.22983002\n',
    'Validation score: 1.000000\n',
    'Iteration 10, loss = 0.18475935\n',
    'Validation score: 1.000000\n',
    'Iteration 11, loss = 0.15563703\n',
    'Validation score: 0.966667\n',
    'Iteration 12, loss = 0.12808359\n',
    'Validation score: 0.966667\n',
    'Validation score did not improve more than tol=0.000100 for 2 consecutive epochs. Stopping.\n',
))

XGBWARN = "".join((
    '/usr/lib/python3/dist-packages/xgboost/training.py:200: UserWarning: [19:50:41] WARNING: /workspace/src/learner.cc:782: \n',
    'Parameters: { "n_estimators" } are not used.\n',
    '\n',
    '  bst.update(dtrain, iteration=i, fobj=obj)\n',
    '[0]\tvalid-auc:0.98980\n',
    '[1]\tvalid-auc:0.98980\n',
    '[2]\tvalid-auc:0.98980\n',
))

CATBOOST = "".join((
    '0:\tlearn: 1.5615426\ttest: 1.7918176\tbest: 1.7918176 (0)\ttotal: 61.5ms\tremaining: 308ms\n',
    '2:\tlearn: 1.0818317\ttest: 1.3191166\tbest: 1.3191166 (2)\ttotal: 62.8ms\tremaining: 62.8ms\n',
    '4:\tlearn: 0.7690092\ttest: 0.9904392\tbest: 0.9904392 (4)\ttotal: 64.2ms\tremaining: 12.8ms\n',
    '5:\tlearn: 0.6736309\ttest: 0.9043091\tbest: 0.9043091 (5)\ttotal: 64.8ms\tremaining: 0us\n',
    '\n',
    'bestTest = 0.9043090537\n',
    'bestIteration = 5\n',
    '\n',
))

KERAS_CB1 = "".join((
    'Epoch 1/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 161ms/step - loss: 0.9502\n',
    'Epoch 1: val_loss improved from None to 0.92202, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 1: finished saving model to /home/u/project/best.keras\n',
    BS * 53,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 172ms/step - loss: 0.8030 - val_loss: 0.9220 - learning_rate: 0.5000\n',
    'Epoch 2/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 266ms/step - loss: 0.8333\n',
    'Epoch 2: val_loss improved from 0.92202 to 0.86538, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 2: finished saving model to /home/u/project/best.keras\n',
    BS * 53,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 168ms/step - loss: 0.7364 - val_loss: 0.8654 - learning_rate: 0.5000\n',
    'Epoch 3/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 36ms/step - loss: 0.7990\n',
    'Epoch 3: val_loss improved from 0.86538 to 0.82751, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 3: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 81ms/step - loss: 0.7052 - val_loss: 0.8275 - learning_rate: 0.5000\n',
    'Epoch 4/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 17ms/step - loss: 0.6822\n',
    'Epoch 4: val_loss improved from 0.82751 to 0.79786, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 4: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 90ms/step - loss: 0.6868 - val_loss: 0.7979 - learning_rate: 0.5000\n',
    'Epoch 5/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 125ms/step - loss: 0.6242\n',
    'Epoch 5: val_loss improved from 0.79786 to 0.77943, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 5: finished saving model to /home/u/project/best.keras\n',
    BS * 53,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 76ms/step - loss: 0.6738 - val_loss: 0.7794 - learning_rate: 0.5000\n',
    'Epoch 6/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 158ms/step - loss: 0.6113\n',
    'Epoch 6: val_loss improved from 0.77943 to 0.76808, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 6: finished saving model to /home/u/project/best.keras\n',
    BS * 53,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 76ms/step - loss: 0.6741 - val_loss: 0.7681 - learning_rate: 0.5000\n',
    'Epoch 7/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 50ms/step - loss: 0.7038\n',
    'Epoch 7: val_loss improved from 0.76808 to 0.76062, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 7: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 55ms/step - loss: 0.6648 - val_loss: 0.7606 - learning_rate: 0.5000\n',
    'Epoch 8/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 38ms/step - loss: 0.6589\n',
    'Epoch 8: val_loss improved from 0.76062 to 0.75722, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 8: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 80ms/step - loss: 0.6632 - val_loss: 0.7572 - learning_rate: 0.5000\n',
    'Epoch 9/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - loss: 0.6932\n',
    'Epoch 9: val_loss improved from 0.75722 to 0.75421, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 9: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 92ms/step - loss: 0.6656 - val_loss: 0.7542 - learning_rate: 0.5000\n',
    'Epoch 10/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 54ms/step - loss: 0.6330\n',
    'Epoch 10: val_loss improved from 0.75421 to 0.75212, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 10: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 74ms/step - loss: 0.6642 - val_loss: 0.7521 - learning_rate: 0.5000\n',
    'Epoch 11/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 179ms/step - loss: 0.6760\n',
    'Epoch 11: val_loss improved from 0.75212 to 0.75014, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 11: finished saving model to /home/u/project/best.keras\n',
    BS * 53,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 32ms/step - loss: 0.6632 - val_loss: 0.7501 - learning_rate: 0.5000\n',
    'Epoch 12/12\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 75ms/step - loss: 0.7385\n',
    'Epoch 12: val_loss improved from 0.75014 to 0.74820, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 12: finished saving model to /home/u/project/best.keras\n',
    BS * 52,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 171ms/step - loss: 0.6641 - val_loss: 0.7482 - learning_rate: 0.5000\n',
))

KERAS_CB2 = "".join((
    'Epoch 1/12\n',
    '\n',
    'Epoch 1: val_loss improved from None to 0.61848, saving model to /home/u/project/best.keras\n',
    '\n',
    'Epoch 1: finished saving model to /home/u/project/best.keras\n',
    '3/3 - 0s - 103ms/step - loss: 0.9259 - val_loss: 0.6185 - learning_rate: 0.5000\n',
    'Epoch 2/12\n',
    '\n',
    'Epoch 2: val_loss did not improve from 0.61848\n',
    '\n',
    'Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n',
    '3/3 - 0s - 74ms/step - loss: 0.8330 - val_loss: 0.6187 - learning_rate: 0.5000\n',
    'Epoch 3/12\n',
    '\n',
    'Epoch 3: val_loss did not improve from 0.61848\n',
    '\n',
    'Epoch 3: ReduceLROnPlateau reducing learning rate to 0.005000000074505806.\n',
    '3/3 - 0s - 32ms/step - loss: 0.7740 - val_loss: 0.6193 - learning_rate: 0.0500\n',
    'Epoch 3: early stopping\n',
))

KERAS_LAST_VAL = "".join((
    'Epoch 1/2\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 804ms/step - accuracy: 0.5000 - loss: 1.0161' + BS * 72,
    '\r\x1b[1m2/3\x1b[0m \x1b[32m━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 65ms/step - accuracy: 0.6875 - loss: 0.7844 ' + BS * 71,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 68ms/step - accuracy: 0.7083 - loss: 0.6667' + BS * 71,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 349ms/step - accuracy: 0.7083 - loss: 0.6667 - val_accuracy: 0.2500 - val_loss: 1.1557\n',
    'Epoch 2/2\n',
    '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 594ms/step - accuracy: 0.6250 - loss: 0.7362' + BS * 72,
    '\r\x1b[1m2/3\x1b[0m \x1b[32m━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 77ms/step - accuracy: 0.6875 - loss: 0.7181 ' + BS * 71,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 70ms/step - accuracy: 0.7083 - loss: 0.6621' + BS * 71,
    '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 132ms/step - accuracy: 0.7083 - loss: 0.6621 - val_accuracy: 0.2500 - val_loss: 1.1496\n',
    '\r\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 41ms/step - accuracy: 0.5000 - loss: 0.7094' + BS * 71,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 20ms/step - accuracy: 0.5938 - loss: 0.7817\n',
))

KERAS_LAST_NOVAL = "".join((
    'Epoch 1/2\n',
    '\r\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m4s\x1b[0m 1s/step - accuracy: 0.3750 - loss: 1.0170' + BS * 69,
    '\r\x1b[1m2/4\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 70ms/step - accuracy: 0.3125 - loss: 1.1189' + BS * 71,
    '\r\x1b[1m3/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 74ms/step - accuracy: 0.3750 - loss: 1.0132' + BS * 71,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 71ms/step - accuracy: 0.3750 - loss: 1.0394' + BS * 71,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 98ms/step - accuracy: 0.3750 - loss: 1.0394\n',
    'Epoch 2/2\n',
    '\r\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 344ms/step - accuracy: 0.3750 - loss: 1.1951' + BS * 72,
    '\r\x1b[1m2/4\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 62ms/step - accuracy: 0.3750 - loss: 1.1067 ' + BS * 71,
    '\r\x1b[1m3/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 63ms/step - accuracy: 0.4167 - loss: 1.0321' + BS * 71,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 63ms/step - accuracy: 0.3750 - loss: 1.0248' + BS * 71,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 87ms/step - accuracy: 0.3750 - loss: 1.0248\n',
    '\r\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 162ms/step - accuracy: 0.2500 - loss: 1.0973' + BS * 72,
    '\r\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 9ms/step - accuracy: 0.3750 - loss: 1.0148  \n',
))


# ---------------------------------------------------------------------------------------------------
# Written down from the libraries' sources (not installed here) and from common scripts

BAR = "\x1b[32m" + "━" * 20 + "\x1b[0m\x1b[37m\x1b[0m"      # keras/src/utils/progbar.py: a full bar
EMPTY_BAR = "\x1b[37m" + "━" * 20 + "\x1b[0m"                # and an empty one

#: Keras 3 (progbar.py, callbacks/progbar_logger.py): the epoch's last batch may be drawn at N/N before validation
#: runs (update(seen, finalize=False)), then finalize draws N/N again with the val_* logs and ends the line
KERAS_LAST_BATCH_THEN_VAL = "".join((
    "Epoch 1/2\n",
    f"\r\x1b[1m 1/24\x1b[0m {EMPTY_BAR} \x1b[1m39s\x1b[0m 2s/step - accuracy: 0.6250 - loss: 0.6549" + BS * 72,
    f"\r\x1b[1m24/24\x1b[0m {BAR} \x1b[1m0s\x1b[0m 9ms/step - accuracy: 0.6771 - loss: 0.6145" + BS * 75,
    f"\r\x1b[1m24/24\x1b[0m {BAR} \x1b[1m2s\x1b[0m 25ms/step - accuracy: 0.6771 - loss: 0.6145 - val_accuracy: 0.7969"
    " - val_loss: 0.5233\n",
    "Epoch 2/2\n",
    f"\r\x1b[1m 1/24\x1b[0m {EMPTY_BAR} \x1b[1m13s\x1b[0m 572ms/step - accuracy: 0.6250 - loss: 0.7183" + BS * 75,
    f"\r\x1b[1m24/24\x1b[0m {BAR} \x1b[1m1s\x1b[0m 9ms/step - accuracy: 0.7604 - loss: 0.5465" + BS * 73,
    f"\r\x1b[1m24/24\x1b[0m {BAR} \x1b[1m1s\x1b[0m 9ms/step - accuracy: 0.7604 - loss: 0.5465 - val_accuracy: 0.8594"
    " - val_loss: 0.4651\n",
))

#: Keras 3 with a dataset of unknown length: the first epoch counts `%7d/Unknown`, its end sets the target
KERAS_UNKNOWN_LENGTH = "".join((
    "Epoch 1/2\n",
    "\r      4/Unknown \x1b[1m1s\x1b[0m 12ms/step - loss: 0.7012" + BS * 44,
    "\r     12/Unknown \x1b[1m1s\x1b[0m 9ms/step - loss: 0.6620" + BS * 43,
    f"\r\x1b[1m12/12\x1b[0m {BAR} \x1b[1m1s\x1b[0m 10ms/step - loss: 0.6620\n",
    "Epoch 2/2\n",
    f"\r\x1b[1m 1/12\x1b[0m {EMPTY_BAR} \x1b[1m0s\x1b[0m 20ms/step - loss: 0.6001" + BS * 60,
    f"\r\x1b[1m12/12\x1b[0m {BAR} \x1b[1m0s\x1b[0m 5ms/step - loss: 0.5800\n",
))

#: Keras 3, verbose=2, with ReduceLROnPlateau (callbacks/reduce_lr_on_plateau.py puts learning_rate in the logs)
KERAS_VERBOSE2_LR = (
    "Epoch 1/2\n"
    "24/24 - 1s - 60ms/step - accuracy: 0.5417 - loss: 0.6802 - val_accuracy: 0.7031 - val_loss: 0.6045"
    " - learning_rate: 0.0400\n"
    "Epoch 2/2\n"
    "24/24 - 0s - 7ms/step - accuracy: 0.7500 - loss: 0.5876 - val_accuracy: 0.8281 - val_loss: 0.5349"
    " - learning_rate: 0.0200\n"
)

#: TensorFlow and absl start-up noise around Keras epochs (the lines a TF 2.16 script prints to stderr)
TENSORFLOW_NOISE = (
    "2024-05-14 10:21:07.531342: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. You may see"
    " slightly different numerical results due to floating-point round-off errors from different computation orders."
    " To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "2024-05-14 10:21:07.563113: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is"
    " optimized to use available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the"
    " appropriate compiler flags.\n"
    "W0000 00:00:1715682069.251871   12345 gpu_device.cc:2344] Cannot dlopen some GPU libraries. step=3 retries=2\n"
    "WARNING:absl:You are saving your model as an HDF5 file via `model.save()`. threshold=0.5\n"
    "/usr/lib/python3/dist-packages/keras/src/layers/core/dense.py:87: UserWarning: Do not pass an `input_shape`/"
    "`input_dim` argument to a layer. dropout=0.1\n"
    "Epoch 1/1\n"
    "32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - accuracy: 0.5312 - loss: 0.6931 - val_accuracy: 0.6200"
    " - val_loss: 0.6600\n"
)

#: PyTorch Lightning 2 before and after the bar (trainer/setup.py `_log_device_info`, the ModelSummary table,
#: loops/fit_loop.py): around a TQDMProgressBar, whose tqdm output TQ_RESET reproduces
LIGHTNING = "".join((
    "GPU available: False, used: False\n",
    "TPU available: False, using: 0 TPU cores\n",
    "HPU available: False, using: 0 HPUs\n",
    "\n",
    "  | Name  | Type   | Params | Mode \n",
    "-----------------------------------------\n",
    "0 | layer | Linear | 66     | train\n",
    "-----------------------------------------\n",
    "66        Trainable params\n",
    "0         Non-trainable params\n",
    "66        Total params\n",
    "0.000     Total estimated model params size (MB)\n",
    "\rSanity Checking: |          | 0/? [00:00<?, ?it/s]",
    "\rSanity Checking DataLoader 0: 100%|██████████| 2/2 [00:00<00:00, 80.12it/s]",
    "\r                                                                           ",
    TQ_RESET,
    "`Trainer.fit` stopped: `max_epochs=2` reached.\n",
))

#: Hugging Face Trainer (trainer_callback.py ProgressCallback: logs as `str(dict)` through tqdm.write, the
#: evaluation bar nested under the training bar; PrinterCallback when tqdm is off prints the same dicts)
HF_TRAINER = "".join((
    "\r  0%|          | 0/8 [00:00<?, ?it/s]",
    "\r 25%|██▌       | 2/8 [00:01<00:03,  1.91it/s]",
    "\r                                             ",
    "\r{'loss': 0.6931, 'grad_norm': 3.1021, 'learning_rate': 3.75e-05, 'epoch': 0.5}\n",
    "\r 25%|██▌       | 2/8 [00:01<00:03,  1.91it/s]",
    "\r 50%|█████     | 4/8 [00:02<00:02,  1.95it/s]",
    "\r                                             ",
    "\r{'loss': 0.6512, 'grad_norm': 2.8874, 'learning_rate': 2.5e-05, 'epoch': 1.0}\n",
    "\r 50%|█████     | 4/8 [00:02<00:02,  1.95it/s]",
    "\n\r  0%|          | 0/2 [00:00<?, ?it/s]\x1b[A",
    "\r100%|██████████| 2/2 [00:00<00:00, 20.13it/s]\x1b[A",
    "\r                                             \x1b[A",
    "\r                                             ",
    "\r{'eval_loss': 0.6402, 'eval_accuracy': 0.625, 'eval_runtime': 0.1066, 'eval_samples_per_second': 150.1,"
    " 'eval_steps_per_second': 18.76, 'epoch': 1.0}\n",
    "\r 50%|█████     | 4/8 [00:02<00:02,  1.95it/s]",
    "\r 75%|███████▌  | 6/8 [00:03<00:01,  1.96it/s]",
    "\r                                             ",
    "\r{'loss': 0.5933, 'grad_norm': 2.5002, 'learning_rate': 1.25e-05, 'epoch': 1.5}\n",
    "\r 75%|███████▌  | 6/8 [00:03<00:01,  1.96it/s]",
    "\r100%|██████████| 8/8 [00:04<00:00,  1.97it/s]",
    "\r                                             ",
    "\r{'loss': 0.5811, 'grad_norm': 2.4123, 'learning_rate': 0.0, 'epoch': 2.0}\n",
    "\r{'eval_loss': 0.6105, 'eval_accuracy': 0.75, 'eval_runtime': 0.1012, 'eval_samples_per_second': 158.1,"
    " 'eval_steps_per_second': 19.76, 'epoch': 2.0}\n",
    "\r{'train_runtime': 4.5137, 'train_samples_per_second': 7.089, 'train_steps_per_second': 1.772,"
    " 'train_loss': 0.6297, 'epoch': 2.0}\n",
    "\r100%|██████████| 8/8 [00:04<00:00,  1.77it/s]\n",
))

#: the same Trainer with `disable_tqdm=True` (PrinterCallback: `print(logs)`), a diverged run
HF_PRINTER_NAN = (
    "{'loss': 2.3012, 'grad_norm': 40.51, 'learning_rate': 0.05, 'epoch': 0.25}\n"
    "{'loss': nan, 'grad_norm': nan, 'learning_rate': 0.05, 'epoch': 0.5}\n"
)

#: pytorch/examples mnist/main.py: `Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}` per log interval, then
#: `\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n` after each epoch
PYTORCH_MNIST = (
    "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.305400\n"
    "Train Epoch: 1 [640/60000 (1%)]\tLoss: 1.359780\n"
    "Train Epoch: 1 [59520/60000 (99%)]\tLoss: 0.045322\n"
    "\n"
    "Test set: Average loss: 0.0479, Accuracy: 9842/10000 (98%)\n"
    "\n"
    "Train Epoch: 2 [0/60000 (0%)]\tLoss: 0.034124\n"
    "Train Epoch: 2 [59520/60000 (99%)]\tLoss: 0.027870\n"
    "\n"
    "Test set: Average loss: 0.0352, Accuracy: 9881/10000 (99%)\n"
    "\n"
)

#: yunjey/pytorch-tutorial: `Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}`: no step the rules can read, so each
#: line is the next step
PYTORCH_TUTORIAL = (
    "Epoch [1/2], Step [100/600], Loss: 0.4112\n"
    "Epoch [1/2], Step [200/600], Loss: 0.3120\n"
    "Epoch [2/2], Step [100/600], Loss: 0.2201\n"
)


def _cut(text: str, before: str, after: str = "") -> str:
    """`text` up to the first `before` that follows `after`: the output of a run stopped there."""
    return text[:text.index(before, text.index(after) if after else 0)]


def _keras_fit_rows(*epochs: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    return [{"step": i, "accuracy": a, "loss": loss, "val_accuracy": va, "val_loss": vl}
            for i, (a, loss, va, vl) in enumerate(epochs, start=1)]


BLOCKS = [
    # Keras 3
    Block("keras_fit_verbose1", "Keras 3.15.1 fit(verbose=1) + evaluate() through a pipe, captured", KERAS1,
          _keras_fit_rows((0.6771, 0.6145, 0.7969, 0.5233), (0.7604, 0.5465, 0.8594, 0.4651),
                          (0.8073, 0.4827, 0.9062, 0.4094)),
          evaluation={"accuracy": 0.8555, "loss": 0.4394}),
    Block("keras_fit_verbose2", "Keras 3.15.1 fit(verbose=2) + evaluate(verbose=2), captured", KERAS2,
          _keras_fit_rows((0.5417, 0.6802, 0.7031, 0.6045), (0.75, 0.5876, 0.8281, 0.5349),
                          (0.8125, 0.5137, 0.875, 0.4737)),
          evaluation={"accuracy": 0.8633, "loss": 0.4751}),
    Block("keras_batch_updates", "Keras 3.15.1 fit(verbose=1) with batches slow enough to be drawn, captured",
          KERAS_SLOW, [{"step": 1, "accuracy": 0.6042, "loss": 0.6977}, {"step": 2, "accuracy": 0.625, "loss": 0.6808}]),
    Block("keras_stopped_in_epoch_2", "KERAS_SLOW cut after batch 5 of epoch 2 (a stopped trial)",
          _cut(KERAS_SLOW, " 7/12", "Epoch 2/2"), [{"step": 1, "accuracy": 0.6042, "loss": 0.6977}], completed=False),
    Block("keras_stopped_after_header", "KERAS1 cut right after `Epoch 2/3` (killed before its first batch)",
          _cut(KERAS1, "\r", "Epoch 2/3"),
          _keras_fit_rows((0.6771, 0.6145, 0.7969, 0.5233)), completed=False),
    Block("keras_callbacks_verbose1", "Keras 3.15.1 fit(verbose=1) with ModelCheckpoint, ReduceLROnPlateau and "
          "EarlyStopping (verbose=1), captured: the callbacks' `\\nEpoch 3: ...` lines end the bar's partial line",
          KERAS_CB1, [{'step': 1, 'loss': 0.803, 'val_loss': 0.922, 'learning_rate': 0.5}, {'step': 2, 'loss': 0.7364, 'val_loss': 0.8654, 'learning_rate': 0.5}, {'step': 3, 'loss': 0.7052, 'val_loss': 0.8275, 'learning_rate': 0.5}, {'step': 4, 'loss': 0.6868, 'val_loss': 0.7979, 'learning_rate': 0.5}, {'step': 5, 'loss': 0.6738, 'val_loss': 0.7794, 'learning_rate': 0.5}, {'step': 6, 'loss': 0.6741, 'val_loss': 0.7681, 'learning_rate': 0.5}, {'step': 7, 'loss': 0.6648, 'val_loss': 0.7606, 'learning_rate': 0.5}, {'step': 8, 'loss': 0.6632, 'val_loss': 0.7572, 'learning_rate': 0.5}, {'step': 9, 'loss': 0.6656, 'val_loss': 0.7542, 'learning_rate': 0.5}, {'step': 10, 'loss': 0.6642, 'val_loss': 0.7521, 'learning_rate': 0.5}, {'step': 11, 'loss': 0.6632, 'val_loss': 0.7501, 'learning_rate': 0.5}, {'step': 12, 'loss': 0.6641, 'val_loss': 0.7482, 'learning_rate': 0.5}]),
    Block("keras_callbacks_verbose2", "the same with fit(verbose=2), captured", KERAS_CB2, [{'step': 1, 'loss': 0.9259, 'val_loss': 0.6185, 'learning_rate': 0.5}, {'step': 2, 'loss': 0.833, 'val_loss': 0.6187, 'learning_rate': 0.5}, {'step': 3, 'loss': 0.774, 'val_loss': 0.6193, 'learning_rate': 0.05}]),
    Block("keras_last_batch_drawn_then_validation", "Keras 3.15.1 fit(verbose=1, validation_split) with batches "
          "slower than the bar's interval, then evaluate(): N/N is drawn at the last batch and again by the epoch's "
          "end with val_*, captured", KERAS_LAST_VAL,
          [{"step": 1, "accuracy": 0.7083, "loss": 0.6667, "val_accuracy": 0.25, "val_loss": 1.1557},
           {"step": 2, "accuracy": 0.7083, "loss": 0.6621, "val_accuracy": 0.25, "val_loss": 1.1496}],
          evaluation={"accuracy": 0.5938, "loss": 0.7817}),
    Block("keras_last_batch_drawn_twice", "the same without validation: N/N drawn twice with the same names, and "
          "evaluate() over as many batches as an epoch, captured", KERAS_LAST_NOVAL,
          [{"step": 1, "accuracy": 0.375, "loss": 1.0394}, {"step": 2, "accuracy": 0.375, "loss": 1.0248}],
          evaluation={"accuracy": 0.375, "loss": 1.0148}),
    Block("keras_verbose2_evaluate_same_length", "Keras 3 fit(verbose=2) without validation, then evaluate(verbose=2) "
          "over as many batches: each verbose=2 line is a bar of its own",
          "Epoch 1/2\n24/24 - 1s - 60ms/step - accuracy: 0.5417 - loss: 0.6802\n"
          "Epoch 2/2\n24/24 - 0s - 7ms/step - accuracy: 0.7500 - loss: 0.5876\n"
          "24/24 - 0s - 3ms/step - accuracy: 0.7800 - loss: 0.5600\n",
          [{"step": 1, "accuracy": 0.5417, "loss": 0.6802}, {"step": 2, "accuracy": 0.75, "loss": 0.5876}],
          evaluation={"accuracy": 0.78, "loss": 0.56}),
    Block("keras_last_batch_then_validation", "keras/src/callbacks/progbar_logger.py + utils/progbar.py",
          KERAS_LAST_BATCH_THEN_VAL,
          _keras_fit_rows((0.6771, 0.6145, 0.7969, 0.5233), (0.7604, 0.5465, 0.8594, 0.4651))),
    Block("keras_unknown_length", "keras/src/utils/progbar.py (`%7d/Unknown`), progbar_logger._finalize_progbar",
          KERAS_UNKNOWN_LENGTH, [{"step": 1, "loss": 0.662}, {"step": 2, "loss": 0.58}]),
    Block("keras_verbose2_learning_rate", "Keras 3 fit(verbose=2) with ReduceLROnPlateau", KERAS_VERBOSE2_LR,
          [{"step": 1, "accuracy": 0.5417, "loss": 0.6802, "val_accuracy": 0.7031, "val_loss": 0.6045,
            "learning_rate": 0.04},
           {"step": 2, "accuracy": 0.75, "loss": 0.5876, "val_accuracy": 0.8281, "val_loss": 0.5349,
            "learning_rate": 0.02}]),
    Block("keras_evaluate_only", "the evaluate() part of KERAS1: a script that only evaluates",
          KERAS1[KERAS1.index("\r\x1b[1m1/8"):KERAS1.index("Test accuracy")],
          [{"step": 1, "accuracy": 0.8555, "loss": 0.4394}]),
    Block("tensorflow_noise", "TensorFlow 2.16 / absl start-up lines on stderr around a Keras epoch",
          TENSORFLOW_NOISE, [{"step": 1, "accuracy": 0.5312, "loss": 0.6931, "val_accuracy": 0.62, "val_loss": 0.66}]),
    # tqdm
    Block("tqdm_bar_per_epoch", "tqdm 4.70.1, a bar per epoch with desc=f'Epoch {n}' and set_postfix, captured",
          TQ_PEREPOCH, [{"step": 1, "loss": 0.2}, {"step": 2, "loss": 0.1}]),
    Block("tqdm_bar_per_epoch_stopped", "TQ_PEREPOCH cut in the middle of epoch 2",
          _cut(TQ_PEREPOCH, "\rEpoch 2:  60%"), [{"step": 1, "loss": 0.2}], completed=False),
    Block("tqdm_bars_without_step", "tqdm 4.70.1, one bar per epoch without a description, captured", TQ_PLAIN,
          [{"step": 1, "acc": 0.8, "loss": 0.47}, {"step": 2, "acc": 0.8, "loss": 0.37}]),
    Block("tqdm_bars_without_step_stopped", "TQ_PLAIN cut at 3/4 of the second bar",
          _cut(TQ_PLAIN, "\r 75%", "0.47]\n"), [{"step": 1, "acc": 0.8, "loss": 0.47}], completed=False),
    # PyTorch Lightning
    Block("lightning_progress_bar", "tqdm 4.70.1 driven as Lightning's TQDMProgressBar (reset, set_description, "
          "postfix with v_num; val_loss after the epoch's N/N), captured", TQ_RESET,
          [{"step": 0, "train_loss": 0.75, "val_loss": 0.8}, {"step": 1, "train_loss": 0.55, "val_loss": 0.6}]),
    Block("lightning_with_its_banner", "Lightning 2 start-up and end lines around TQ_RESET", LIGHTNING,
          [{"step": 0, "train_loss": 0.75, "val_loss": 0.8}, {"step": 1, "train_loss": 0.55, "val_loss": 0.6}]),
    Block("lightning_killed_in_validation", "TQ_RESET cut after epoch 1's training batches, before its val_loss",
          _cut(TQ_RESET, "val_loss=0.600"), [{"step": 0, "train_loss": 0.75, "val_loss": 0.8}], completed=False),
    Block("lightning_stopped_mid_epoch", "TQ_RESET cut in the middle of epoch 1 (its bar still shows epoch 0's "
          "val_loss)", _cut(TQ_RESET, "\rEpoch 1:  50%"), [{"step": 0, "train_loss": 0.75, "val_loss": 0.8}],
          completed=False),
    # Hugging Face Trainer
    Block("hf_trainer_tqdm_write", "tqdm 4.70.1 .write() of HF-style log dicts above a bar, captured", TQ_WRITE,
          [{"step": 0.5, "loss": 0.6831, "grad_norm": 1.2345, "learning_rate": 4e-05},
           {"step": 1, "loss": 0.6631, "grad_norm": 1.2345, "learning_rate": 4e-05}]),
    Block("hf_trainer", "transformers trainer_callback.py ProgressCallback: train, eval and summary dicts",
          HF_TRAINER,
          [{"step": 0.5, "loss": 0.6931, "grad_norm": 3.1021, "learning_rate": 3.75e-05},
           {"step": 1, "loss": 0.6512, "grad_norm": 2.8874, "learning_rate": 2.5e-05, "eval_loss": 0.6402,
            "eval_accuracy": 0.625, "eval_runtime": 0.1066, "eval_samples_per_second": 150.1,
            "eval_steps_per_second": 18.76},
           {"step": 1.5, "loss": 0.5933, "grad_norm": 2.5002, "learning_rate": 1.25e-05},
           {"step": 2, "loss": 0.5811, "grad_norm": 2.4123, "learning_rate": 0.0, "eval_loss": 0.6105,
            "eval_accuracy": 0.75, "eval_runtime": 0.1012, "eval_samples_per_second": 158.1,
            "eval_steps_per_second": 19.76, "train_runtime": 4.5137, "train_samples_per_second": 7.089,
            "train_steps_per_second": 1.772, "train_loss": 0.6297}]),
    Block("hf_printer_diverged", "transformers PrinterCallback (`print(logs)`) of a run whose loss became nan",
          HF_PRINTER_NAN, [{"step": 0.25, "loss": 2.3012, "grad_norm": 40.51, "learning_rate": 0.05},
                           {"step": 0.5, "loss": NAN, "grad_norm": NAN, "learning_rate": 0.05}]),
    # XGBoost, LightGBM
    Block("xgboost_train", "XGBoost 3.2.0 xgb.train(evals=[(d, 'train'), (v, 'eval')]), captured", XGB,
          [{"step": i, "train-rmse": a, "train-mae": b, "eval-rmse": c, "eval-mae": d} for i, (a, b, c, d) in enumerate([
              (1.36564, 1.0902, 1.58216, 1.26897), (0.98967, 0.7771, 1.16934, 0.91736),
              (0.72128, 0.55499, 0.87, 0.65873), (0.52974, 0.39827, 0.66117, 0.48166),
              (0.39264, 0.28694, 0.50937, 0.35238), (0.29504, 0.20797, 0.40318, 0.26027)])]),
    Block("xgboost_sklearn", "XGBoost 3.2.0 XGBClassifier.fit(eval_set=[...], verbose=True), captured", XGBSK,
          [{"step": 0, "validation_0-logloss": 0.44363, "validation_1-logloss": 0.44665},
           {"step": 1, "validation_0-logloss": 0.30745, "validation_1-logloss": 0.31167},
           {"step": 2, "validation_0-logloss": 0.22122, "validation_1-logloss": 0.22636},
           {"step": 3, "validation_0-logloss": 0.1633, "validation_1-logloss": 0.16918}]),
    Block("xgboost_warning", "XGBoost 3.2.0 warning on an unused parameter, then rounds, captured", XGBWARN,
          [{"step": 0, "valid-auc": 0.9898}, {"step": 1, "valid-auc": 0.9898}, {"step": 2, "valid-auc": 0.9898}]),
    Block("lightgbm_train_early_stopping", "LightGBM 4.7.0 lgb.train, log_evaluation(5), early_stopping(3), "
          "captured (its info and warning records, `best gain: -inf`, the best round printed again)", LGB,
          [{"step": 5, "training-l2": 0.190985, "training-l1": 0.272487, "valid_1-l2": 0.326683,
            "valid_1-l1": 0.325154},
           {"step": 10, "training-l2": 0.0851634, "training-l1": 0.144557, "valid_1-l2": 0.188071,
            "valid_1-l1": 0.217175}]),
    Block("lightgbm_sklearn", "LightGBM 4.7.0 LGBMClassifier.fit(eval_set=...) with log_evaluation(2), captured",
          LGBSK, [{"step": 2, "valid_0-binary_logloss": 0.526393},
                                       {"step": 4, "valid_0-binary_logloss": 0.414188},
                                       {"step": 6, "valid_0-binary_logloss": 0.330513}]),
    Block("catboost", "CatBoost 1.2.10 CatBoostRegressor(verbose=2, eval_set=...), captured: `N:\\tlearn: ...` rounds, "
          "then its best iteration (the evaluation)", CATBOOST,
          [{"step": 0, "learn": 1.5615426, "test": 1.7918176, "best": 1.7918176},
           {"step": 2, "learn": 1.0818317, "test": 1.3191166, "best": 1.3191166},
           {"step": 4, "learn": 0.7690092, "test": 0.9904392, "best": 0.9904392},
           {"step": 5, "learn": 0.6736309, "test": 0.9043091, "best": 0.9043091}],
          evaluation={"bestTest": 0.9043090537, "bestIteration": 5}),
    # scikit-learn
    Block("sklearn_mlp_early_stopping", "scikit-learn 1.9.1 MLPClassifier(verbose=True, early_stopping=True), captured",
          MLP, [{"step": i, "loss": loss, "score": 0.2} for i, loss in
                enumerate([0.80592779, 0.80308994, 0.80047208, 0.79782979], start=1)]),
    Block("sklearn_mlp_regressor", "scikit-learn 1.9.1 MLPRegressor(verbose=True), captured", MLP2,
          [{"step": 1, "loss": 2.33420537}, {"step": 2, "loss": 2.32200867}, {"step": 3, "loss": 2.30992037}]),
    Block("sklearn_sgd", "scikit-learn 1.9.1 SGDClassifier(verbose=1), captured", SGD,
          [{"step": 1, "Norm": 73.87, "NNZs": 5, "Bias": -0.772886, "T": 300, "loss": 1.082403, "Objective": 1.267032},
           {"step": 2, "Norm": 75.81, "NNZs": 5, "Bias": -7.006065, "T": 600, "loss": 0.593887, "Objective": 0.882858},
           {"step": 3, "Norm": 68.62, "NNZs": 5, "Bias": -6.094763, "T": 900, "loss": 0.47222, "Objective": 0.737139}]),
    Block("sklearn_gradient_boosting_table", "scikit-learn 1.9.1 GradientBoostingRegressor(verbose=1), captured: "
          "a table, no name: value pairs", GBR, []),
    # PyTorch scripts
    Block("pytorch_mnist_example", "pytorch/examples mnist/main.py train() and test() prints", PYTORCH_MNIST,
          [{"step": 1, "Loss": 0.045322, "loss": 0.0479}, {"step": 2, "Loss": 0.02787, "loss": 0.0352}]),
    Block("pytorch_mnist_example_stopped", "PYTORCH_MNIST cut after epoch 2's first interval",
          _cut(PYTORCH_MNIST, "Train Epoch: 2 [59520"), [{"step": 1, "Loss": 0.045322, "loss": 0.0479}],
          completed=False),
    Block("pytorch_tutorial", "yunjey/pytorch-tutorial feedforward_neural_network main.py print", PYTORCH_TUTORIAL,
          [{"step": 1, "Loss": 0.4112}, {"step": 2, "Loss": 0.312}, {"step": 3, "Loss": 0.2201}]),
    # plain prints
    Block("plain_epoch_lines", "print(f'epoch {epoch} loss={loss} acc={acc}')",
          "epoch 1 loss=0.5 acc=0.8\nepoch 2 loss=0.4 acc=0.85\n",
          [{"step": 1, "loss": 0.5, "acc": 0.8}, {"step": 2, "loss": 0.4, "acc": 0.85}]),
    Block("plain_announcement", "a Keras-style script announcing its settings before the first epoch",
          "Training model with learning rate=0.04 for 8 epochs.\nepoch 1 loss=0.52\nepoch 2 loss=0.43\n",
          [{"step": 1, "loss": 0.52}, {"step": 2, "loss": 0.43}]),
    Block("plain_settings_and_sizes", "sizes and settings printed by a script without steps",
          "Data size: 10000 samples\nbatch size=32\nnum_layers: 4\nUsing 4 workers\nloss: 0.9\nloss: 0.5\n",
          [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5}]),
    Block("plain_settings_before_steps", "a setting printed as `lr: 0.1` before `epoch N` lines",
          "lr: 0.1\nepoch 1 loss=0.5\nepoch 2 loss=0.4\n", [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}],
          retracts=True),
    Block("plain_no_steps", "metric lines without a step among other prints",
          "loss: 0.9\nsome text\nloss: 0.5 acc: -0.1\n", [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5, "acc": -0.1}]),
    Block("plain_header_lines", "a header line per epoch, then one line per metric",
          "== epoch 1 ==\nloss: 0.9\nacc: 0.5\n== epoch 2 ==\nloss: 0.4\nacc: 0.6\n",
          [{"step": 1, "loss": 0.9, "acc": 0.5}, {"step": 2, "loss": 0.4, "acc": 0.6}]),
    Block("plain_single_line_then_crash", "a script that prints one metric line and then exits 3",
          "hello from the project fail\nloss: 0.25\ngoing down\n", [{"step": 1, "loss": 0.25}], completed=False),
    Block("plain_header_lines_stopped", "the same, stopped after epoch 2's first line",
          "== epoch 1 ==\nloss: 0.9\nacc: 0.5\n== epoch 2 ==\nloss: 0.4\n", [{"step": 1, "loss": 0.9, "acc": 0.5}],
          completed=False),
    Block("plain_validation_between_steps", "a validation line printed after each epoch's line",
          "epoch 1 loss=0.5\nval_loss: 0.6\nepoch 2 loss=0.4\nval_loss: 0.55\n",
          [{"step": 1, "loss": 0.5, "val_loss": 0.6}, {"step": 2, "loss": 0.4, "val_loss": 0.55}]),
    Block("plain_final_evaluation", "a test result printed once after the epochs",
          "epoch 1 loss=0.5\nepoch 2 loss=0.4\nTest loss: 0.45\n", [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}],
          evaluation={"loss": 0.45}),
    Block("plain_diverged", "printed nan and inf values", "epoch 1 loss: 0.9\nepoch 2 loss: nan\nepoch 3 loss: inf\n",
          [{"step": 1, "loss": 0.9}, {"step": 2, "loss": NAN}, {"step": 3, "loss": math.inf}]),
    Block("plain_durations", "timings printed beside the metrics",
          "epoch 1 loss=0.5 time: 2.1 s\nEpoch took 3.2 seconds\nepoch 2 loss=0.4 time: 2.0 s\n",
          [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]),
    Block("plain_json_lines", "print(json.dumps({...})) per epoch (NaN as Python's json writes it)",
          '{"epoch": 1, "loss": 0.5, "val_loss": 0.6, "note": "warmup"}\n{"epoch": 2, "loss": 0.4, "val_loss": NaN}\n',
          [{"step": 1, "loss": 0.5, "val_loss": 0.6}, {"step": 2, "loss": 0.4, "val_loss": NAN}]),
    Block("plain_tagged", "tuner's own `[tune-metric]` tag", "[tune-metric] epoch=1 loss=0.3\n[tune-metric] epoch=2 loss=0.2\n",
          [{"step": 1, "loss": 0.3}, {"step": 2, "loss": 0.2}]),
    Block("argparse_namespace", "print(args) of an argparse script: its flags are not metrics",
          "Namespace(dropout=0.2, epochs=10, lr=0.001)\nepoch 1 loss=0.5\n", [{"step": 1, "loss": 0.5}],
          ignore=("dropout", "epochs", "lr")),
    Block("absl_logging", "absl.logging.info from the script (absl/logging/__init__.py's `%c%02d%02d %02d:%02d:%02d.%06d "
          "%5d %s:%d] ` prefix), among TF's C++ records",
          "W1207 10:21:05.000102  4618 cuda_executor.cc:1015] could not open file step=3\n"
          "I1207 10:21:07.531234 140234 train.py:42] epoch 1 loss=0.52 acc=0.81\n"
          "I1207 10:21:09.102511 140234 train.py:42] epoch 2 loss=0.43 acc=0.85\n",
          [{"step": 1, "loss": 0.52, "acc": 0.81}, {"step": 2, "loss": 0.43, "acc": 0.85}]),
    Block("python_warning", "a Python warning whose text holds name=value",
          "/home/u/train.py:12: UserWarning: lr=0.1 is large\n  warnings.warn(\nepoch 1 loss=0.5\n",
          [{"step": 1, "loss": 0.5}]),
    Block("sentence_with_a_step", "`Step 1: load data` is a sentence, not a header",
          "Step 1: loading data\nloss: 0.9\nloss: 0.5\n", [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5}]),
    Block("sklearn_mlp_stops_itself", "scikit-learn 1.9.1 MLPClassifier early stopping to the end, captured "
          "(`tol=0.000100 for 2 consecutive epochs`)", MLPSTOP,
          [{"step": i, "loss": loss, "score": score} for i, (loss, score) in enumerate([
              (0.79244723, 0.533333), (0.68007138, 0.6), (0.61302404, 0.666667), (0.55210885, 0.766667),
              (0.4911978, 0.833333), (0.42725419, 0.833333), (0.35915918, 0.866667), (0.2896535, 0.933333),
              (0.22983002, 1.0), (0.18475935, 1.0), (0.15563703, 0.966667), (0.12808359, 0.966667)], start=1)]),
]
