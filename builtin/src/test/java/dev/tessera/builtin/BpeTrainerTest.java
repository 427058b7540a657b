package dev.tessera.builtin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {
    private static final String TEXT = "the cat sat on the mat. the cat ate the rat. 你好你好 🙂🙂 the end.\n";

    @Test
    void learnsFrequentPairsFirstAndDeterministically() {
        BpeTrainer.Vocabulary v = BpeTrainer.train(TEXT.repeat(3), 300, List.of("<unk>", "<s>", "</s>"), 2);
        assertEquals(List.of("<unk>", "<s>", "</s>"), v.tokens().subList(0, 3));
        assertEquals(3 + 256 + v.merges().size(), v.tokens().size(), "one new token per merge here");
        assertTrue(v.tokens().contains("Ġthe"), "' the' is the most frequent piece: " + v.tokens().subList(259, 270));
        BpeTrainer.Vocabulary again = BpeTrainer.train(TEXT.repeat(3), 300, List.of("<unk>", "<s>", "</s>"), 2);
        assertEquals(v.tokens(), again.tokens());
    }

    @Test
    void stopsAtTheTargetOrWhenPairsRunOut() {
        BpeTrainer.Vocabulary capped = BpeTrainer.train(TEXT, 270, List.of("<s>"), 1);
        assertEquals(270, capped.tokens().size());
        BpeTrainer.Vocabulary exhausted = BpeTrainer.train(TEXT, 100_000, List.of("<s>"), 1);
        assertTrue(exhausted.tokens().size() < 400, "every piece became one token: " + exhausted.tokens().size());
    }

    @Test
    void writesATokenizerTheHfLibraryLoads(@TempDir Path dir) throws Exception {
        BpeTrainer.Vocabulary v = BpeTrainer.train(TEXT.repeat(2), 400, List.of("<unk>", "<s>", "</s>"), 1);
        Path file = dir.resolve("tokenizer.json");
        TokenizerJson.write(v, "<s>", file);
        try (HfTok tok = HfTok.load(file)) {
            assertEquals(v.tokens().size(), tok.vocabSize());
            int[] ids = tok.encode("the cat sat on the mat.", true);
            assertEquals(1, ids[0], "<s> first");
            assertEquals(1 + 7, ids.length, "whole pieces: <s> the ' cat' ' sat' ' on' ' the' ' mat' '.'");
            for (String s : List.of("the cat sat on the mat.", "unseen words, ÜNICODE ∑ 🚀 and 你好", "")) {
                assertEquals(s, tok.decode(tok.encode(s, true), true));
            }
        }
        assertTrue(Files.size(file) > 1000);
    }
}
