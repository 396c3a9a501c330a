"""absl flags with app.run: a boolean (--name/--noname), an enum, an integer, a float, a list."""
from _echo import echo
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 16, "batch size")
flags.DEFINE_float("lr", 0.01, "learning rate")
flags.DEFINE_boolean("augment", True, "augment the data")
flags.DEFINE_enum("model", "cnn", ["cnn", "mlp"], "model kind")
flags.DEFINE_string("name", "x", "run name")


def main(argv):
    echo({"batch_size": FLAGS.batch_size, "lr": FLAGS.lr, "augment": FLAGS.augment, "model": FLAGS.model,
          "name": FLAGS.name})


if __name__ == "__main__":
    app.run(main)
