"""The encoder-predictor-decoder (EPD) of NAO over a space's token sequences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AllowedTokens = Callable[[Sequence[int]], list[int]]
"""``prefix -> tokens allowed next`` (a space's ``allowed_tokens``)."""


class EPD(nn.Module):
    """Encoder, predictor and decoder of NAO (Luo et al., NeurIPS 2018).

    - encoder: token embedding -> 1-layer LSTM; each position's output is scaled to
      unit length, so gradient steps in the embedding move on a fixed scale;
    - predictor: mean of the encoder outputs (the architecture's embedding) -> MLP ->
      one value per head (normalised objectives);
    - decoder: 1-layer LSTM whose initial state is the embedding, with dot-product
      attention over the encoder outputs; :meth:`decode` only emits tokens the space
      allows after the prefix, so every sequence it returns is a valid architecture.

    Parameters
    ----------
    vocab_size:
        Size of the space's token vocabulary.
    n_heads:
        Number of predicted values.
    embedding, hidden, mlp_hidden:
        Token embedding, LSTM and predictor widths (the paper's 48, 96 and 200).
    """

    def __init__(
        self,
        vocab_size: int,
        n_heads: int,
        embedding: int = 48,
        hidden: int = 96,
        mlp_hidden: int = 200,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.encoder_embedding = nn.Embedding(vocab_size, embedding)
        self.encoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.predictor = nn.Sequential(
            nn.Linear(hidden, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, n_heads)
        )
        # Index ``vocab_size`` is the start token fed before the first output.
        self.decoder_embedding = nn.Embedding(vocab_size + 1, embedding)
        self.decoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.attention_out = nn.Linear(2 * hidden, hidden)
        self.classifier = nn.Linear(hidden, vocab_size)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` tokens -> ``(B, L, hidden)`` unit-length encoder outputs."""
        outputs, _ = self.encoder(self.encoder_embedding(tokens))
        return F.normalize(outputs, dim=-1)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """Encoder outputs -> ``(B, n_heads)`` predicted normalised objectives."""
        return self.predictor(outputs.mean(dim=1))

    def _initial_state(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = outputs.mean(dim=1).unsqueeze(0).contiguous()
        return h, h

    def _logits(self, decoded: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(decoded @ outputs.transpose(1, 2), dim=-1)
        context = weights @ outputs
        return self.classifier(torch.tanh(self.attention_out(torch.cat([context, decoded], -1))))

    def reconstruction_logits(self, outputs: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L, vocab)`` logits of ``tokens`` given encoder outputs (teacher forcing)."""
        start = torch.full_like(tokens[:, :1], self.vocab_size)
        inputs = self.decoder_embedding(torch.cat([start, tokens[:, :-1]], dim=1))
        decoded, _ = self.decoder(inputs, self._initial_state(outputs))
        return self._logits(decoded, outputs)

    @torch.no_grad()
    def decode(self, outputs: torch.Tensor, allowed: AllowedTokens) -> list[list[int]]:
        """Greedy decoding restricted at every step to the tokens ``allowed`` after the prefix.

        Parameters
        ----------
        outputs:
            ``(B, L, hidden)`` encoder outputs (possibly moved by gradient steps).
        allowed:
            The space's ``allowed_tokens``.

        Returns
        -------
        list of list of int
            ``B`` token sequences of length ``L``.
        """
        batch, length, _ = outputs.shape
        state = self._initial_state(outputs)
        token = torch.full((batch, 1), self.vocab_size, dtype=torch.long, device=outputs.device)
        sequences: list[list[int]] = [[] for _ in range(batch)]
        for _ in range(length):
            decoded, state = self.decoder(self.decoder_embedding(token), state)
            logits = self._logits(decoded, outputs)[:, 0]
            banned = np.ones(logits.shape, dtype=bool)
            for b, prefix in enumerate(sequences):
                banned[b, allowed(prefix)] = False
            banned = torch.from_numpy(banned).to(logits.device)
            token = logits.masked_fill(banned, float("-inf")).argmax(dim=-1, keepdim=True)
            for b, t in enumerate(token[:, 0].tolist()):
                sequences[b].append(t)
        return sequences
