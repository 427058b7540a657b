package dev.tessera.builtin;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;

/**
 * Trains a byte-level BPE vocabulary, the algorithm of Hugging Face's {@code BpeTrainer}: split the corpus with the
 * GPT-2 pattern, count the pieces, start from the 256 byte symbols, then repeatedly merge the most frequent adjacent
 * pair. Ties go to the pair of smaller ids, so the result depends only on the corpus and the parameters.
 */
final class BpeTrainer {
    /** A trained vocabulary: {@code tokens.get(id)} is the token string, merges are in rank order. */
    record Vocabulary(List<String> tokens, List<String[]> merges, int specialCount) {
        Vocabulary {
            tokens = List.copyOf(tokens);
            merges = List.copyOf(merges);
        }
    }

    private BpeTrainer() {}

    /**
     * @param corpus training text
     * @param vocabSize target size including the special tokens; training stops earlier when no pair reaches
     *     {@code minFrequency}
     * @param specials special tokens, given the first ids in order
     * @param minFrequency smallest pair count worth a merge
     */
    static Vocabulary train(String corpus, int vocabSize, List<String> specials, int minFrequency) {
        Objects.requireNonNull(corpus, "corpus");
        if (vocabSize < specials.size() + 256) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " < specials + 256 byte symbols");
        }
        List<String> tokens = new ArrayList<>(specials);
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < specials.size(); i++) {
            ids.put(specials.get(i), i);
        }
        char[] alphabet = new char[256];
        for (int b = 0; b < 256; b++) {
            alphabet[b] = ByteLevel.charOf(b);
        }
        Arrays.sort(alphabet); // byte symbols in character order, as the HF trainer lays them out
        for (char c : alphabet) {
            ids.put(String.valueOf(c), tokens.size());
            tokens.add(String.valueOf(c));
        }

        // Unique pieces with their counts, in a fixed (sorted) order.
        TreeMap<String, Integer> pieceCounts = new TreeMap<>();
        Matcher m = ByteLevel.SPLIT.matcher(corpus);
        while (m.find()) {
            pieceCounts.merge(ByteLevel.encode(m.group()), 1, Integer::sum);
        }
        int n = pieceCounts.size();
        int[][] words = new int[n][];
        int[] freq = new int[n];
        int w = 0;
        for (Map.Entry<String, Integer> e : pieceCounts.entrySet()) {
            String piece = e.getKey();
            int[] symbols = new int[piece.length()];
            for (int i = 0; i < symbols.length; i++) {
                symbols[i] = ids.get(String.valueOf(piece.charAt(i)));
            }
            words[w] = symbols;
            freq[w++] = e.getValue();
        }

        Map<Long, Long> pairCounts = new HashMap<>();
        Map<Long, IntList> pairWords = new HashMap<>();
        for (int i = 0; i < n; i++) {
            addPairs(words[i], freq[i], i, pairCounts, pairWords, null);
        }
        PriorityQueue<long[]> queue = new PriorityQueue<>(BpeTrainer::compareEntries);
        pairCounts.forEach((pair, count) -> queue.add(new long[] {count, pair}));

        List<String[]> merges = new ArrayList<>();
        int[] seen = new int[n];
        int stamp = 0;
        Set<Long> touched = new HashSet<>();
        while (tokens.size() < vocabSize && !queue.isEmpty()) {
            long[] top = queue.poll();
            long pair = top[1];
            long current = pairCounts.getOrDefault(pair, 0L);
            if (current != top[0]) {
                if (current > 0) {
                    queue.add(new long[] {current, pair});
                }
                continue;
            }
            if (current < minFrequency) {
                break;
            }
            int a = (int) (pair >>> 32);
            int b = (int) pair;
            String merged = tokens.get(a) + tokens.get(b);
            Integer existing = ids.get(merged);
            int newId;
            if (existing == null) {
                newId = tokens.size();
                tokens.add(merged);
                ids.put(merged, newId);
            } else {
                newId = existing;
            }
            merges.add(new String[] {tokens.get(a), tokens.get(b)});

            stamp++;
            touched.clear();
            IntList affected = pairWords.remove(pair);
            for (int k = 0; affected != null && k < affected.size; k++) {
                int wi = affected.values[k];
                if (seen[wi] == stamp) {
                    continue;
                }
                seen[wi] = stamp;
                int[] old = words[wi];
                int[] replaced = merge(old, a, b, newId);
                if (replaced == old) {
                    continue;
                }
                removePairs(old, freq[wi], pairCounts, touched);
                words[wi] = replaced;
                addPairs(replaced, freq[wi], wi, pairCounts, pairWords, touched);
            }
            pairCounts.remove(pair);
            for (Long key : touched) {
                long count = pairCounts.getOrDefault(key, 0L);
                if (count > 0 && key != pair) {
                    queue.add(new long[] {count, key});
                }
            }
        }
        return new Vocabulary(tokens, merges, specials.size());
    }

    /** Orders queue entries by count (descending), then by pair ids (ascending). */
    private static int compareEntries(long[] x, long[] y) {
        int byCount = Long.compare(y[0], x[0]);
        return byCount != 0 ? byCount : Long.compare(x[1], y[1]);
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    /** {@code word} with every non-overlapping (a, b), left to right, replaced by {@code id}; same array if none. */
    private static int[] merge(int[] word, int a, int b, int id) {
        int[] out = null;
        int len = 0;
        for (int i = 0; i < word.length; i++) {
            if (i + 1 < word.length && word[i] == a && word[i + 1] == b) {
                if (out == null) {
                    out = Arrays.copyOf(word, word.length);
                    len = i;
                }
                out[len++] = id;
                i++;
            } else if (out != null) {
                out[len++] = word[i];
            }
        }
        return out == null ? word : Arrays.copyOf(out, len);
    }

    private static void addPairs(int[] word, int f, int wordIndex, Map<Long, Long> counts, Map<Long, IntList> where,
                                 Set<Long> touched) {
        for (int i = 0; i + 1 < word.length; i++) {
            long k = key(word[i], word[i + 1]);
            counts.merge(k, (long) f, Long::sum);
            where.computeIfAbsent(k, x -> new IntList()).add(wordIndex);
            if (touched != null) {
                touched.add(k);
            }
        }
    }

    private static void removePairs(int[] word, int f, Map<Long, Long> counts, Set<Long> touched) {
        for (int i = 0; i + 1 < word.length; i++) {
            long k = key(word[i], word[i + 1]);
            counts.merge(k, (long) -f, Long::sum);
            touched.add(k);
        }
    }

    /** A growable list of ints (word indices; may repeat). */
    private static final class IntList {
        int[] values = new int[4];
        int size;

        void add(int v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }
    }
}
