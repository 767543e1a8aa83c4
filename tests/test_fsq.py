import itertools

import pytest
import torch

from fsqtok.autoencoder.fsq import FSQ


@pytest.mark.parametrize("levels", [[3], [4], [8, 5, 5], [2, 3, 4, 5], [7, 6]])
def test_every_code_round_trips(levels):
    fsq = FSQ(levels)
    grid = list(itertools.product(*[range(n) for n in levels]))
    level_index = torch.tensor(grid)  # (prod, D)
    codes = (level_index - fsq.half_width).float() / fsq.half_width
    indices = fsq.codes_to_indices(codes)
    assert sorted(indices.tolist()) == list(range(fsq.codebook_size))
    assert torch.equal(fsq.indices_to_codes(indices), codes)


def test_default_codebook_size_and_range():
    fsq = FSQ([8, 8, 8, 8, 8, 5, 5, 5])
    assert fsq.codebook_size == 4_096_000
    codes, indices = fsq(torch.randn(1000, 8) * 3)
    assert indices.dtype == torch.int64
    assert int(indices.min()) >= 0 and int(indices.max()) < 4_096_000
    assert torch.equal(fsq.indices_to_codes(indices), codes)


def test_hand_computed_values():
    fsq = FSQ([8, 5])
    # z = 0: even L shifts by atanh(0.5/3.5035) so bound(0) = 0 exactly -> level 0 -> index 4 (+ 2*8)
    codes, indices = fsq(torch.zeros(1, 2))
    assert codes.tolist() == [[0.0, 0.0]]
    assert indices.tolist() == [4 + 2 * 8]
    # large z saturates at the top level: 3/4 for L=8, 2/2 for L=5
    codes, indices = fsq(torch.tensor([[100.0, 100.0], [-100.0, -100.0]]))
    assert codes.tolist() == [[0.75, 1.0], [-1.0, -1.0]]
    assert indices.tolist() == [7 + 4 * 8, 0]


def test_straight_through_gradient():
    fsq = FSQ([8, 5])
    z = torch.tensor([[0.3, -0.2]], requires_grad=True)
    codes, _ = fsq(z)
    codes.sum().backward()
    expected = torch.autograd.functional.jacobian(lambda t: fsq.bound(t).sum() , z)
    assert torch.allclose(z.grad, expected / fsq.half_width)
    assert (z.grad != 0).all()
