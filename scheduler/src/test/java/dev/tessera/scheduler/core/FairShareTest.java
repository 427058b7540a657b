package dev.tessera.scheduler.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fairness policy, on step counts with fixed step costs: equal time shares, and a bounded wait. */
class FairShareTest {

    /** Runs {@code steps} picks with both lanes always busy; returns the sequence of lanes that ran. */
    private static List<Integer> run(FairShare fair, long[] cost, int steps) {
        boolean[] busy = {true, true};
        int[] order = new int[2];
        List<Integer> ran = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            assertEquals(2, fair.order(busy, order));
            int lane = order[0];
            fair.charge(lane, cost[lane], busy);
            ran.add(lane);
        }
        return ran;
    }

    @Test
    void equalCostsAlternate() {
        List<Integer> ran = run(new FairShare(8), new long[] {10, 10}, 10);
        assertEquals(List.of(0, 1, 0, 1, 0, 1, 0, 1, 0, 1), ran);
    }

    @Test
    void aCostlierLaneStepsLessOftenSoBothGetTheSameTime() {
        List<Integer> ran = run(new FairShare(100), new long[] {10, 40}, 50);
        long cheap = ran.stream().filter(l -> l == 0).count();
        long costly = ran.size() - cheap;
        // equal time: 10 * cheap ~ 40 * costly
        assertTrue(Math.abs(10 * cheap - 40 * costly) <= 40, cheap + " cheap vs " + costly + " costly steps");
    }

    @Test
    void noBusyLaneWaitsMoreThanTheBoundWhateverTheCosts() {
        int bound = 5;
        List<Integer> ran = run(new FairShare(bound), new long[] {1, 1_000_000}, 200);
        int wait = 0;
        int longest = 0;
        for (int lane : ran) {
            wait = lane == 1 ? 0 : wait + 1;
            longest = Math.max(longest, wait);
        }
        assertEquals(bound, longest, "the costly lane waited at most " + bound + " steps of the other");
    }

    @Test
    void aLaneThatWasIdleDoesNotBankItsIdleTime() {
        FairShare fair = new FairShare(100);
        int[] order = new int[2];
        boolean[] onlyFirst = {true, false};
        for (int s = 0; s < 50; s++) {
            fair.order(onlyFirst, order);
            fair.charge(0, 10, onlyFirst);
        }
        // lane 1 wakes up: it does not get 50 steps in a row to catch up
        List<Integer> ran = run(fair, new long[] {10, 10}, 6);
        assertEquals(3, ran.stream().filter(l -> l == 1).count(), ran.toString());
    }
}
