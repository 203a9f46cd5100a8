"""The siamese LSTM: one encoder shared by both branches, and a pair head giving P(same type).

Encoder: a cell's kernel row (its similarities to the column cells, ordered so that
neighbouring columns are similar cells) is cut into ``n_steps`` equal chunks and read by an
LSTM as a sequence of that fixed length, whatever the number of cells; the last hidden
state, projected, is the cell's embedding.

Heads:
* ``"absdiff"``: an MLP on |e_a − e_b| — symmetric in (a, b) by construction;
* ``"concat"``: the paper's head, an MLP with sigmoid layers on [e_a, e_b]; made symmetric
  at inference by averaging both orders.

Labelled mode adds a class head trained with the pairs, so that cells whose labels were not
used get a predicted class (label transfer): a linear layer on the embedding plus a linear
layer on the whole input sequence (``skip_width`` = its length × width). The skip is there
because the embedding alone kept too little of the kernel row to tell some types apart.
After training, a class-balanced logistic regression on the same input sequence, fitted to
convergence on the labelled cells, is stored as ``sequence_classifier``; a cell's class
probabilities are the mean of the head's and this classifier's (benchmarks/results/EXPERIMENTS.md,
"How much of the labelled gap is chance?").
"""
from __future__ import annotations

import torch
from torch import nn

HEADS = ("absdiff", "concat")


class Encoder(nn.Module):
    def __init__(self, step_width: int, hidden: int = 64, embedding_dim: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(step_width, hidden, batch_first=True)
        self.project = nn.Linear(hidden, embedding_dim)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(seq)
        return self.project(h[-1])


class AbsDiffHead(nn.Module):
    def __init__(self, embedding_dim: int, hidden: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.abs(a - b)).squeeze(-1)


class ConcatHead(nn.Module):
    """Concatenate → dense → sigmoid → dense (→ sigmoid in the loss), as in Jiang et al."""

    def __init__(self, embedding_dim: int, hidden: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * embedding_dim, hidden), nn.Sigmoid(), nn.Linear(hidden, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([a, b], dim=-1)).squeeze(-1)


class SiameseLSTM(nn.Module):
    """Both branches run the same :class:`Encoder`; the head returns the logit of P(same)."""

    def __init__(self, step_width: int, head: str = "absdiff", hidden: int = 64, embedding_dim: int = 32,
                 n_classes: int = 0, skip_width: int = 0, sequence_classifier: bool = False):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.encoder = Encoder(step_width, hidden, embedding_dim)
        self.head_name = head
        self.head = AbsDiffHead(embedding_dim) if head == "absdiff" else ConcatHead(embedding_dim)
        self.n_classes = int(n_classes)
        self.classifier = nn.Linear(embedding_dim, n_classes) if n_classes else None
        self.class_skip = nn.Linear(skip_width, n_classes) if n_classes and skip_width else None
        # set by training.fit_sequence_classifier; created empty here only to load saved weights
        self.sequence_classifier = (nn.Linear(skip_width, n_classes)
                                    if n_classes and skip_width and sequence_classifier else None)

    def forward(self, seq_a: torch.Tensor, seq_b: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(seq_a), self.encoder(seq_b))

    @torch.no_grad()
    def pair_probability(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """Symmetric P(same) for embeddings already computed."""
        p = torch.sigmoid(self.head(emb_a, emb_b))
        if self.head_name == "concat":
            p = (p + torch.sigmoid(self.head(emb_b, emb_a))) / 2
        return p

    def class_logits(self, emb: torch.Tensor, seq: torch.Tensor | None) -> torch.Tensor:
        """The class head (labelled mode) on cells' embeddings and their input sequences
        (``seq`` may be None only for a model without the skip)."""
        if self.classifier is None:
            raise ValueError("this model has no class head (it was not trained in labelled mode)")
        out = self.classifier(emb)
        if self.class_skip is not None:
            out = out + self.class_skip(seq.flatten(1))
        return out

    @torch.no_grad()
    def class_probabilities(self, emb: torch.Tensor, seq: torch.Tensor | None) -> torch.Tensor:
        """Softmax of the class head, averaged with the sequence classifier's when there is one."""
        prob = torch.softmax(self.class_logits(emb, seq), dim=-1)
        if self.sequence_classifier is not None:
            prob = (prob + torch.softmax(self.sequence_classifier(seq.flatten(1)), dim=-1)) / 2
        return prob
