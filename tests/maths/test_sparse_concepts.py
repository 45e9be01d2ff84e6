"""The sparse non-negative concept decomposition (singaudit.maths.sparse_concepts): it recovers a
planted combination of concepts embedded by a real CLIP text tower, its solution meets the
lasso's optimality conditions over the whole vocabulary, and it is deterministic."""

import pytest
import torch

from singaudit.checks.concepts import load_vocabulary
from singaudit.maths.sparse_concepts import centred_concepts, nonnegative_lasso


def random_concepts(count: int = 400, dim: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return centred_concepts(torch.randn(count, dim, generator=generator) + 0.5)


def test_recovers_planted_combinations_on_a_real_clip_text_tower():
    """open_clip's CLIP architecture (random weights, small) with OpenAI's BPE tokenizer (bundled:
    nothing is downloaded) embeds 300 words of the shipped vocabulary; shifts planted as
    0.5 / 0.3 / 0.2 combinations of three random words plus noise are decomposed."""
    import open_clip
    from open_clip.model import CLIP

    torch.manual_seed(0)
    model = CLIP(embed_dim=128, vision_cfg={"image_size": 32, "layers": 1, "width": 32,
                                            "head_width": 32, "patch_size": 16},
                 text_cfg={"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                           "layers": 2}).eval()
    words = load_vocabulary("words").concepts[:300]
    with torch.no_grad():
        concepts = centred_concepts(model.encode_text(open_clip.get_tokenizer("ViT-B-32")(words)))
    generator = torch.Generator().manual_seed(5)
    weights, recovered = torch.tensor([0.5, 0.3, 0.2]), 0
    for _ in range(5):
        planted = torch.randperm(len(words), generator=generator)[:3].tolist()
        shift = weights @ concepts[planted]
        target = shift / shift.norm() + torch.randn(128, generator=generator) * 0.05 / 128 ** 0.5
        result = nonnegative_lasso(target[None], concepts, sparsity=0.1)
        top = result.top(0, 5)
        assert result.cosine[0] > 0.95 and result.optimal
        if [index for index, _ in top[:3]] != planted:  # planted first, in order of weight
            continue
        recovered += 1
        expected = (weights / shift.norm()).tolist()  # the planted weights of the unit target
        for (_, found), wanted in zip(top[:3], expected, strict=True):
            assert found == pytest.approx(wanted, abs=0.05)
        assert all(weight < 0.05 for _, weight in top[3:])  # anything else is noise-sized
    assert recovered >= 4  # a random text tower has near-synonyms that may swap in a draw


@pytest.mark.parametrize("sparsity", [0.1, 0.4, 0.8])
def test_the_penalised_solution_meets_the_optimality_conditions(sparsity):
    concepts = random_concepts()
    targets = torch.randn(6, 32, generator=torch.Generator().manual_seed(2))
    result = nonnegative_lasso(targets, concepts, sparsity=sparsity, refit=False,
                               working_set=16, max_concepts=None)  # small sets: KKT rounds add
    unit = torch.nn.functional.normalize(targets, dim=-1)
    correlation = (unit - result.weights @ concepts) @ concepts.T
    penalty = sparsity * (unit @ concepts.T).max(dim=-1, keepdim=True).values
    support = result.weights > 0
    assert result.optimal
    assert torch.all((correlation - penalty)[support].abs() < 1e-3)  # active: gradient = penalty
    assert torch.all(correlation[~support] <= penalty.expand_as(correlation)[~support] + 1e-3)
    assert torch.all(result.weights >= 0)
    sizes = support.sum(dim=-1)
    assert sizes.max() > 16 if sparsity == 0.1 else True  # grew past the first working set


def test_max_concepts_cuts_dense_targets_only():
    concepts = random_concepts()
    dense = torch.randn(4, 32, generator=torch.Generator().manual_seed(4))
    sparse = concepts[[3, 7]].sum(dim=0, keepdim=True)
    result = nonnegative_lasso(torch.cat([dense, sparse]), concepts, sparsity=0.05,
                               max_concepts=3)
    sizes = (result.weights > 0).sum(dim=-1)
    assert torch.all(sizes <= 3) and torch.all(sizes[:4] >= 1)
    assert result.limited.tolist() == [True] * 4 + [False]
    cut = nonnegative_lasso(dense, concepts, sparsity=0.05, max_concepts=3, refit=False)
    free = nonnegative_lasso(dense, concepts, sparsity=0.05, max_concepts=None, refit=False)
    for row in range(4):  # the three largest weights of the unbounded solution are kept
        assert set(torch.topk(free.weights[row], 3).indices.tolist()) == set(
            torch.nonzero(cut.weights[row]).squeeze(-1).tolist())
    unbounded = nonnegative_lasso(dense, concepts, sparsity=0.05, max_concepts=None)
    assert torch.all((unbounded.weights > 0).sum(dim=-1) > 3) and not unbounded.limited.any()
    with pytest.raises(ValueError, match="max_concepts"):
        nonnegative_lasso(dense, concepts, max_concepts=0)


def test_deterministic_and_independent_of_the_batch():
    concepts = random_concepts()
    targets = torch.randn(10, 32, generator=torch.Generator().manual_seed(3))
    once = nonnegative_lasso(targets, concepts, batch_size=3)
    again = nonnegative_lasso(targets, concepts, batch_size=3)
    alone = nonnegative_lasso(targets[4:5], concepts)
    assert torch.equal(once.weights, again.weights)
    assert torch.equal(once.weights[4] > 0, alone.weights[0] > 0)
    assert torch.allclose(once.weights[4], alone.weights[0], atol=1e-5)
    # The scale of a target does not matter (it is normalised), nor does the sparsity's meaning.
    scaled = nonnegative_lasso(targets * 1e3, concepts, batch_size=3)
    assert torch.allclose(scaled.weights, once.weights, atol=1e-5)


def test_empty_decompositions():
    concepts = random_concepts()
    targets = torch.zeros(2, 32)
    targets[1] = 1.0
    empty = nonnegative_lasso(targets, concepts)
    assert empty.weights[0].sum() == 0 and empty.cosine[0] == 0 and empty.top(0, 5) == []
    assert nonnegative_lasso(targets, concepts, sparsity=1.0).weights.sum() == 0
    with pytest.raises(ValueError, match="sparsity"):
        nonnegative_lasso(targets, concepts, sparsity=1.5)
