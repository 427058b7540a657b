package dev.tessera.engine.text.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    @Test
    void stopStringSpanningDeltasCutsBeforeIt() {
        StopMatcher m = new StopMatcher(List.of("\n\nUser:"), false);
        StringBuilder out = new StringBuilder();
        out.append(m.accept("Hello there").text());
        assertEquals("Hello there", out.toString());
        StopMatcher.Result r = m.accept("!\n");
        assertEquals("!", r.text(), "the newline could start the stop string");
        assertFalse(r.stopped());
        out.append(r.text());
        r = m.accept("\nUs");
        assertEquals("", r.text());
        r = m.accept("er: ignored");
        assertTrue(r.stopped());
        assertEquals("\n\nUser:", r.matchedStop());
        out.append(r.text());
        assertEquals("Hello there!", out.toString());
        assertThrows(IllegalStateException.class, () -> m.accept("more"));
        assertEquals("", m.flush());
    }

    @Test
    void heldTextIsReleasedWhenItStopsLookingLikeAStop() {
        StopMatcher m = new StopMatcher(List.of("STOP"), false);
        assertEquals("a ", m.accept("a ST").text());
        assertEquals("STEP", m.accept("EP").text());
        assertEquals("x", m.accept("xS").text());
        assertEquals("S", m.flush());
        assertNull(m.matchedStop());
    }

    @Test
    void includeStopKeepsTheStopString() {
        StopMatcher m = new StopMatcher(List.of("</answer>"), true);
        assertEquals("42", m.accept("42</ans").text());
        StopMatcher.Result r = m.accept("wer> trailing");
        assertEquals("</answer>", r.text());
        assertTrue(r.stopped());
    }

    @Test
    void earliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("world", "lo w", "o"), false);
        StopMatcher.Result r = m.accept("Hello world");
        assertEquals("Hel", r.text());
        assertEquals("lo w", r.matchedStop());
        StopMatcher longest = new StopMatcher(List.of("ab", "abc"), false);
        assertEquals("abc", longest.accept("xxabcd").matchedStop(), "same start: the longest stop");
    }

    @Test
    void noStopsPassEverythingThrough() {
        StopMatcher m = new StopMatcher(List.of(), false);
        assertEquals("anything\n", m.accept("anything\n").text());
        assertEquals("", m.flush());
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of(""), false));
    }

    @Test
    void randomSplitsGiveTheSameResultAsWholeText() {
        SplittableRandom random = new SplittableRandom(7);
        String alphabet = "ab\n😀";
        List<String> stops = List.of("aab", "\n\n", "😀b", "ba😀a");
        for (int trial = 0; trial < 500; trial++) {
            StringBuilder text = new StringBuilder();
            int len = random.nextInt(30);
            for (int i = 0; i < len; i++) {
                int k = random.nextInt(4);
                text.append(k == 3 ? "😀" : String.valueOf(alphabet.charAt(k)));
            }
            String whole = text.toString();
            int expectedCut = Integer.MAX_VALUE;
            for (String s : stops) {
                int at = whole.indexOf(s);
                if (at >= 0) {
                    expectedCut = Math.min(expectedCut, at);
                }
            }
            String expected = expectedCut == Integer.MAX_VALUE ? whole : whole.substring(0, expectedCut);

            StopMatcher m = new StopMatcher(stops, false);
            StringBuilder out = new StringBuilder();
            int at = 0;
            boolean stopped = false;
            while (at < whole.length() && !stopped) {
                int next = Math.min(whole.length(), at + 1 + random.nextInt(4));
                if (next < whole.length() && Character.isLowSurrogate(whole.charAt(next))) {
                    next++;
                }
                StopMatcher.Result r = m.accept(whole.substring(at, next));
                out.append(r.text());
                stopped = r.stopped();
                at = next;
            }
            if (!stopped) {
                out.append(m.flush());
            }
            assertEquals(expected, out.toString(), "text " + whole);
            assertEquals(expectedCut != Integer.MAX_VALUE, stopped, "text " + whole);
        }
    }
}
