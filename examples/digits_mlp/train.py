"""A Keras MLP on scikit-learn's digits (1,797 8x8 images shipped inside scikit-learn: no download),
after tfruns' mnist_mlp example. Needs the `tensorflow` extra: pip install "tuner-sweeps[tensorflow]".

One run:  tune examples/digits_mlp/train.py --flag epochs=5
Sweep:    tune examples/digits_mlp/train.py --flags examples/digits_mlp/grid.yml --sample 0.3
Then:     tune ls            tune tensorboard SWEEP       (per-epoch metrics, evaluation, TensorBoard logs)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up notices out of the log

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tuner import flag_integer, flag_numeric, flags, tensorboard_dir, write_run_metadata

FLAGS = flags(
    flag_numeric("dropout1", 0.4, "dropout rate after the first hidden layer"),
    flag_numeric("dropout2", 0.3, "dropout rate after the second hidden layer"),
    flag_integer("units", 64, "units of each hidden layer"),
    flag_integer("batch_size", 64, "examples per gradient step"),
    flag_integer("epochs", 12, "passes over the training data"),
    flag_numeric("learning_rate", 0.003, "Adam's step size"),
)

import keras  # noqa: E402  (after flags: `--help` and bad flags answer without loading TensorFlow)

from tuner.keras import MetricsCallback  # noqa: E402

keras.utils.set_random_seed(1)
digits = load_digits()
x = digits.data.astype("float32") / 16.0  # pixel intensities 0..16 -> 0..1
x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                                    stratify=digits.target)

model = keras.Sequential([
    keras.Input(shape=(64,)),
    keras.layers.Dense(FLAGS.units, activation="relu"),
    keras.layers.Dropout(FLAGS.dropout1),
    keras.layers.Dense(FLAGS.units, activation="relu"),
    keras.layers.Dropout(FLAGS.dropout2),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(FLAGS.learning_rate),
              metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs, validation_split=0.2, verbose=2,
          callbacks=[MetricsCallback(batch_size=FLAGS.batch_size),  # per-epoch metrics, live
                     keras.callbacks.TensorBoard(tensorboard_dir(), write_graph=False, profile_batch=0)])

score = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
write_run_metadata("evaluation", score)
print(f"Test loss: {score['loss']:.4f}")
print(f"Test accuracy: {score['accuracy']:.4f}")
