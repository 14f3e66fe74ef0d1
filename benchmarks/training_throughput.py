"""Training throughput: optuna-nas's device-resident pipeline vs a torchvision DataLoader.

Run: ``python -m benchmarks.training_throughput [--device cpu|cuda] [--out FILE]``

Both pipelines train the same architectures on the same Fashion-MNIST images with the
same batch size, optimiser and augmentation (random 2-px translation + horizontal
flip). The baseline is the usual recipe: a ``Dataset`` yielding PIL images,
``transforms.Compose([RandomCrop(padding), RandomHorizontalFlip, ToTensor, Normalize])``,
a ``DataLoader`` with worker processes, and a ``loss.item()`` per step. Also prints
the time per trial split into build / weight transfer / train / eval.
"""

from __future__ import annotations

import argparse
import datetime
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from benchmarks._report import emit, machine
from optuna_nas import NB201Space, TrainConfig
from optuna_nas.data import load_data
from optuna_nas.networks import transfer_weights
from optuna_nas.training import evaluate, train

ARCHS = {
    "light": "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
    "heavy": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
}


class _PILDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform) -> None:  # noqa: ANN001
        self.x, self.y, self.transform = x.cpu().numpy(), y.cpu().numpy(), transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.transform(Image.fromarray(self.x[i, 0])), int(self.y[i])


def dataloader_epochs(model, data, config, workers, device, channels_last=False) -> float:  # noqa: ANN001
    """Images/s of the classic pipeline (train steps only)."""
    transform = transforms.Compose([
        transforms.RandomCrop(data.input_shape[1], padding=config.translate),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(data.mean, data.std),
    ])  # fmt: skip
    loader = DataLoader(_PILDataset(data.train_x, data.train_y, transform),
                        batch_size=config.batch_size, shuffle=True, drop_last=True,
                        num_workers=workers, persistent_workers=workers > 0)  # fmt: skip
    model.to(device).train()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                weight_decay=config.weight_decay)  # fmt: skip
    images = 0
    start = time.perf_counter()
    for _ in range(config.epochs):
        for x, y in loader:
            x, y = x.to(device, memory_format=memory_format), y.to(device)
            loss = F.cross_entropy(model(x), y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # the usual per-step logging sync
            images += len(y)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    space = NB201Space(channels=args.channels, cells=args.cells)
    data = load_data("fashion-mnist", train_size=args.train_size, val_size=2000, test_size=2000)
    config = TrainConfig(epochs=args.epochs, batch_size=256, device=args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"

    lines = [
        "# Training throughput: device-resident pipeline vs torchvision DataLoader",
        "",
        f"- command: `python -m benchmarks.training_throughput --device {args.device} "
        f"--train-size {args.train_size} --channels {args.channels} --cells {args.cells} "
        f"--epochs {args.epochs} --workers {args.workers} --threads {args.threads}`",
        f"- machine: {machine()}, GPU: {gpu}, torch {torch.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- data: Fashion-MNIST, {args.train_size} training images, batch 256, "
        f"{args.epochs} epochs; NB201Space(channels={args.channels}, cells={args.cells})",
        "",
        "| architecture | DataLoader (img/s) | DataLoader + channels_last (img/s) "
        "| optuna-nas (img/s) | speed-up vs DataLoader / vs DataLoader + channels_last |",
        "|---|---|---|---|---|",
    ]
    for name, text in ARCHS.items():
        arch = space.from_nb201_string(text)
        torch.manual_seed(0)
        baseline = dataloader_epochs(space.build(arch, 1, 10), data, config, args.workers, device)
        torch.manual_seed(0)
        last = dataloader_epochs(space.build(arch, 1, 10), data, config, args.workers, device,
                                 channels_last=True)  # fmt: skip
        torch.manual_seed(0)
        ours = train(space.build(arch, 1, 10), data, config).images_per_second
        lines.append(f"| {name} | {baseline:.0f} | {last:.0f} | {ours:.0f} | "
                     f"{ours / baseline:.2f}x / {ours / last:.2f}x |")  # fmt: skip

    # One trial, timed step by step, as NASObjective runs it.
    arch = space.from_nb201_string(ARCHS["heavy"])
    parent = space.build(arch, 1, 10).state_dict()
    t0 = time.perf_counter()
    model = space.build(arch, 1, 10)
    t1 = time.perf_counter()
    transfer_weights(parent, model)
    t2 = time.perf_counter()
    result = train(model, data, config)
    t3 = time.perf_counter()
    evaluate(model, data, "val", config)
    evaluate(model, data, "test", config)
    t4 = time.perf_counter()
    lines += [
        "",
        "Time per trial (heavy architecture, including per-epoch validation in train):",
        "",
        "| build | weight transfer | train | final eval (val + test) |",
        "|---|---|---|---|",
        f"| {t1 - t0:.3f} s | {t2 - t1:.3f} s | {t3 - t2:.1f} s "
        f"({result.images_per_second:.0f} img/s) | {t4 - t3:.2f} s |",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
