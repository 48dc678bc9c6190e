"""TextTransformerEncoder and its word vocabulary: protocol, tokenizer, padding, determinism, save/load."""

import doctest

import numpy as np
import pytest
import torch

from ssl_engine.encoders import text_scratch
from ssl_engine.encoders.base import Encoder
from ssl_engine.encoders.text_scratch import (
    TextTransformerConfig,
    TextTransformerEncoder,
    WordVocabulary,
    split_words,
)
from ssl_engine.ssl.mlm import MaskedLanguageModel

torch.set_num_threads(1)

CORPUS = ["My card was declined!", "Where is my refund?", "card declined at the ATM", "refund my card fee",
          "How do I top up?", "top up failed", ""]
TINY = TextTransformerConfig(dim=16, n_heads=2, n_layers=1, vocab_size=20, hash_buckets=4, min_frequency=1)


def test_split_words():
    assert split_words("Ｃard  declined—again!") == ["card", "declined", "—", "again", "!"]
    assert split_words("") == []


def test_vocabulary_is_frequency_ranked_with_alphabetical_ties_and_buckets():
    vocab = WordVocabulary.fit(["b a a", "c b a", "d"], vocab_size=3 + 2 + 4, hash_buckets=4, min_frequency=1)
    assert vocab.words == ["a", "b"]  # a: 3, b: 2, then c and d (1 each) do not fit
    assert vocab.size == 9
    assert vocab.word_id("a") == 3 and vocab.word_id("b") == 4
    assert 5 <= vocab.word_id("zebra") < 9 and vocab.word_id("zebra") == vocab.word_id("zebra")
    no_buckets = WordVocabulary.fit(["a b"], vocab_size=4, hash_buckets=0, min_frequency=1)
    assert no_buckets.word_id("unseen") == 1  # [UNK]
    assert WordVocabulary.fit(["a a b"], vocab_size=10, hash_buckets=0, min_frequency=2).words == ["a"]
    with pytest.raises(ValueError, match="no room"):
        WordVocabulary.fit(["a"], vocab_size=5, hash_buckets=4)


def test_vocabulary_is_deterministic_and_json_round_trips():
    a = WordVocabulary.fit(CORPUS, vocab_size=20, hash_buckets=4, min_frequency=1)
    b = WordVocabulary.fit(list(reversed(CORPUS)), vocab_size=20, hash_buckets=4, min_frequency=1)
    assert a.to_dict() == b.to_dict()
    assert WordVocabulary.from_dict(a.to_dict()).to_dict() == a.to_dict()


def test_encode_batch_pads_truncates_and_never_leaves_an_empty_row():
    vocab = WordVocabulary.fit(CORPUS, vocab_size=20, hash_buckets=4, min_frequency=1)
    ids, mask = vocab.encode_batch(["card declined", "", "my card was declined at the atm"], max_length=4)
    assert ids.shape == mask.shape == (3, 4)
    assert mask.sum(dim=1).tolist() == [2, 1, 4]
    assert ids[1, 0].item() == 1 and (ids[~mask] == 0).all()  # empty text -> [UNK]; padding -> 0


def test_follows_both_protocols():
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY)
    assert isinstance(encoder, Encoder) and isinstance(encoder, MaskedLanguageModel)
    assert encoder.dim == 16 and encoder.vocab_size == 20 and encoder.version.startswith("text-scratch-")


@pytest.mark.parametrize("texts", [["card"], CORPUS, ["a much longer text " * 40, "short"]])
def test_embed_shapes_norms_and_order(texts):
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY)
    z = encoder.embed(texts, batch_size=2)
    assert z.shape == (len(texts), 16) and z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    one_by_one = np.concatenate([encoder.embed([t]) for t in texts])
    np.testing.assert_allclose(z, one_by_one, atol=1e-5)  # padding and batching change nothing


def test_padding_does_not_change_the_pooled_vector():
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY)
    with torch.no_grad():
        alone = encoder.encode_tensors(["card declined"], train=False)
        padded = encoder.encode_tensors(["card declined", "my card was declined at the atm"], train=False)[:1]
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-5)


def test_mlm_logits_shape_and_mask_id():
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY)
    ids, mask = encoder.tokenize(["card declined", "top up"])
    assert encoder.mlm_logits(ids, mask, train=False).shape == (2, ids.shape[1], 20)
    assert encoder.mask_token_id == 2 and encoder.special_token_ids == (0, 1, 2)


def test_same_corpus_and_seed_same_version_and_rng_untouched():
    torch.manual_seed(9)
    expected = torch.rand(2)
    torch.manual_seed(9)
    a = TextTransformerEncoder.from_corpus(CORPUS, TINY, seed=0)
    torch.testing.assert_close(torch.rand(2), expected)
    assert a.version == TextTransformerEncoder.from_corpus(CORPUS, TINY, seed=0).version
    assert a.version != TextTransformerEncoder.from_corpus(CORPUS, TINY, seed=1).version


def test_save_and_load_round_trip(tmp_path):
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY, seed=2)
    encoder.save(tmp_path / "enc")
    loaded = TextTransformerEncoder.load(tmp_path / "enc")
    assert loaded.version == encoder.version
    np.testing.assert_array_equal(loaded.embed(CORPUS), encoder.embed(CORPUS))


def test_rejects_a_single_string_and_bad_config():
    encoder = TextTransformerEncoder.from_corpus(CORPUS, TINY)
    with pytest.raises(TypeError, match="single string"):
        encoder.embed("card declined")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TextTransformerConfig(dim=10, n_heads=4)


def test_docstring_example():
    assert doctest.testmod(text_scratch).failed == 0
