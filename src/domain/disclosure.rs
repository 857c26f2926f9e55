//! NHS small-number disclosure control, docs/domain.md §8.
//!
//! NHS Digital's rule for HES and ECDS below national level (since September 2018): a count of
//! 1–7 is shown as `*`, every other count is rounded to the nearest 5, zero stays zero, and
//! percentages are computed from the rounded numbers. Suppressing the small cell is not enough
//! on its own: a table that also publishes its total lets a reader subtract the other cells, so
//! the service also suppresses a second cell of every total that would otherwise give a
//! suppressed cell away (secondary suppression). The tests attack the output with a brute-force
//! adversary that knows the table's additive relations.

/// An additive relation between cells of one published table: `total` = sum of `parts` (indices
/// into the cell slice), e.g. `offered = accepted + declined + seen_in_department`
/// (docs/domain.md §7). A relation names each cell once and never names its total among its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The index of the cell that is the sum.
    pub total: usize,
    /// The indices of the cells that add up to `total`.
    pub parts: Vec<usize>,
}

impl Relation {
    /// The total, then the parts in their order.
    fn cells(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.total).chain(self.parts.iter().copied())
    }
}

/// The smallest count NHS Digital publishes: 1–7 are suppressed (docs/domain.md §8).
const SMALLEST_PUBLISHED: i64 = 8;

/// Nearest multiple of 5 (counts are non-negative; 0 stays 0). An integer is never exactly
/// between two multiples of 5, so there is no tie to break.
pub fn round_to_5(n: i64) -> i64 {
    (n + 2).div_euclid(5) * 5
}

/// Primary suppression: a count of 1..=7 (docs/domain.md §8).
fn is_small(count: i64) -> bool {
    (1..SMALLEST_PUBLISHED).contains(&count)
}

/// NHS Digital disclosure control for one table. `values` are the true counts (>= 0).
/// Returns the published cells: `None` = suppressed (`*`), `Some(v)` = the published (rounded)
/// value.
///
/// Rules: primary — a count of 1..=7 is suppressed; every other count is rounded to the nearest
/// 5; 0 stays 0. Secondary — while any relation has exactly one suppressed cell among its total
/// and parts, suppress one more cell of that relation: the unsuppressed part with the smallest
/// non-zero true value (ties: lowest cell index); if no part qualifies, the total if it is
/// non-zero; a true zero is never hidden. Repeat to a
/// fixpoint (a secondary suppression can break another relation that shares the cell). Then,
/// while a reader who knows these rules could still pin a hidden cell by interval reasoning
/// ([`pinned`]: small cells are 1–7, a second cell is at most the open parts it was chosen
/// before, published counts are within 2 of the truth), hide one more cell of its relation the
/// same way (in the first of its relations that still has a non-zero open cell), and go round
/// again. This happens only at rounding edges, e.g. 28 = 7 + 7 + 7 + 7.
///
/// A relation with a single cell (a total without parts) cannot be helped and is left alone.
///
/// # What it guarantees
///
/// A reader who knows the relations and the published cells, and takes each `*` for any count
/// (small, or hidden for another cell's sake), cannot pin any suppressed cell to one value,
/// provided each relation's parts share no attendance (a true breakdown of its total, as in every
/// table the service publishes). When no two relations share more than one cell and they form no
/// cycle — the funnel's relations share none — this is certain: at the fixpoint each relation
/// holds no suppressed cell or at least two, every suppressed true value is at least 1, so moving
/// one hidden cell by 1 can be balanced by another hidden cell of each relation it touches, and
/// without a cycle the balancing never comes back. Chains, trees, second breakdowns of a total
/// and cycles (cross-tabulations) are attacked by the tests' brute-force reader, and so is a
/// reader who knows the whole algorithm (every table it would publish the same way), over every
/// relation of three and four parts built from the edge values 0, 1, 6, 7, 8 and 12. Outside the
/// guarantee, shown by a test: parts that overlap (a relation counting a cell twice).
///
/// # Panics
///
/// If a relation names a cell outside `values` — the table's shape is fixed in code, so this is
/// a programming error.
pub fn protect(values: &[i64], relations: &[Relation]) -> Vec<Option<i64>> {
    let mut suppressed: Vec<bool> = values.iter().map(|&v| is_small(v)).collect();
    // For each cell hidden as the smallest part of a relation: the largest value a reader who
    // knows the rule could give it (it was no larger than any other open part then).
    let mut ceiling: Vec<Option<i64>> = vec![None; values.len()];
    loop {
        let mut changed = false;
        for relation in relations {
            if relation.cells().filter(|&c| suppressed[c]).count() != 1 {
                continue;
            }
            if let Some(cell) = second_cell(values, &suppressed, relation) {
                hide(values, cell, relation, &mut suppressed, &mut ceiling);
                changed = true;
            }
        }
        if changed {
            continue;
        }
        // The fixpoint still gives a cell away to a reader who also knows these rules (1–7 for a
        // small cell, the smallest open part for a second cell) at a rounding edge, such as
        // 28 = 7 + 7 + 7 + 7 published as 30, *, *, *, *: hide one more cell of its relation.
        for cell in pinned(values, &suppressed, &ceiling, relations) {
            let helped = relations
                .iter()
                .filter(|r| r.cells().any(|c| c == cell))
                .find_map(|r| second_cell(values, &suppressed, r).map(|next| (next, r)));
            if let Some((next, relation)) = helped {
                hide(values, next, relation, &mut suppressed, &mut ceiling);
                changed = true;
                break;
            }
        }
        if !changed {
            break;
        }
    }
    values
        .iter()
        .zip(&suppressed)
        .map(|(&v, &hidden)| (!hidden).then(|| round_to_5(v)))
        .collect()
}

/// Suppresses `cell` for `relation`'s sake. A part hidden there was no larger than any other
/// open part: its ceiling is the largest value the smallest of those could have.
fn hide(values: &[i64], cell: usize, relation: &Relation, suppressed: &mut [bool], ceiling: &mut [Option<i64>]) {
    if relation.parts.contains(&cell) {
        ceiling[cell] = relation
            .parts
            .iter()
            .filter(|&&p| p != cell && !suppressed[p] && values[p] != 0)
            .map(|&p| round_to_5(values[p]) + 2)
            .min();
    }
    suppressed[cell] = true;
}

/// Suppressed cells that a reader who knows the rules could pin to one value, by interval
/// reasoning over the relations. The reader is given more than a real one has: which hidden
/// cells are small (1–7) and which were hidden for another's sake (8 or more, or exactly 0, and
/// at most their `ceiling`), so what it cannot pin, no real reader can by the same reasoning.
fn pinned(values: &[i64], suppressed: &[bool], ceiling: &[Option<i64>], relations: &[Relation]) -> Vec<usize> {
    let unbounded: i64 = values.iter().sum::<i64>().saturating_mul(2).saturating_add(100);
    let (mut lo, mut hi): (Vec<i64>, Vec<i64>) = values
        .iter()
        .enumerate()
        .map(|(c, &v)| match (suppressed[c], v) {
            (_, 0) => (0, 0),
            (false, v) => ((round_to_5(v) - 2).max(SMALLEST_PUBLISHED), round_to_5(v) + 2),
            (true, v) if is_small(v) => (1, SMALLEST_PUBLISHED - 1),
            (true, _) => (SMALLEST_PUBLISHED, ceiling[c].unwrap_or(unbounded)),
        })
        .unzip();
    // The true values lie within these intervals, so narrowing never empties one.
    narrow(&mut lo, &mut hi, relations);
    (0..values.len()).filter(|&c| suppressed[c] && lo[c] == hi[c]).collect()
}

/// Narrows `[lo, hi]` by every relation until nothing changes; false when a cell has no value
/// left, i.e. no consistent table lies within the intervals.
fn narrow(lo: &mut [i64], hi: &mut [i64], relations: &[Relation]) -> bool {
    loop {
        let mut changed = false;
        for r in relations {
            let parts_lo: i64 = r.parts.iter().map(|&p| lo[p]).sum();
            let parts_hi: i64 = r.parts.iter().map(|&p| hi[p]).sum();
            changed |= tighten(lo, hi, r.total, parts_lo, parts_hi);
            let (total_lo, total_hi) = (lo[r.total], hi[r.total]);
            for &p in &r.parts {
                // Sums computed before this pass's changes are looser, never wrong.
                let (others_lo, others_hi) = (parts_lo - lo[p], parts_hi - hi[p]);
                changed |= tighten(lo, hi, p, total_lo - others_hi, total_hi - others_lo);
            }
        }
        if lo.iter().zip(hi.iter()).any(|(l, h)| l > h) {
            return false;
        }
        if !changed {
            return true;
        }
    }
}

/// Intersects `cell`'s interval with `[low, high]`; true when it shrank.
fn tighten(lo: &mut [i64], hi: &mut [i64], cell: usize, low: i64, high: i64) -> bool {
    let before = (lo[cell], hi[cell]);
    lo[cell] = lo[cell].max(low);
    hi[cell] = hi[cell].min(high);
    before != (lo[cell], hi[cell])
}

/// The cell secondary suppression hides next in a relation that gives one suppressed cell away
/// (see [`protect`]); `None` when every non-zero cell of the relation is already suppressed.
/// A true zero is never hidden: zero stays zero (docs/domain.md §8), and hiding it would not widen
/// what a reader can infer about any other cell of the relation.
fn second_cell(values: &[i64], suppressed: &[bool], relation: &Relation) -> Option<usize> {
    let smallest = |cells: &mut dyn Iterator<Item = usize>| cells.min_by_key(|&c| (values[c], c));
    let open = |c: &usize| !suppressed[*c];
    smallest(&mut relation.parts.iter().copied().filter(open).filter(|&c| values[c] != 0))
        .or_else(|| (open(&relation.total) && values[relation.total] != 0).then_some(relation.total))
}

/// A rate computed from published numbers: None when either is suppressed or the denominator is
/// 0; else numerator/denominator rounded to 4 decimal places. docs/domain.md §8 computes percentages
/// from the rounded numbers, so a rate never reveals more than its published counts.
pub fn rate(numerator: Option<i64>, denominator: Option<i64>) -> Option<f64> {
    let (numerator, denominator) = (numerator?, denominator?);
    if denominator == 0 {
        return None;
    }
    Some((numerator as f64 / denominator as f64 * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    fn relation(total: usize, parts: &[usize]) -> Relation {
        Relation {
            total,
            parts: parts.to_vec(),
        }
    }

    #[test]
    fn counts_round_to_the_nearest_5() {
        // Each pair: true count, published count (docs/domain.md §8: nearest 5; zero stays zero).
        let cases = [
            (0, 0),
            (8, 10),
            (10, 10),
            (12, 10),
            (13, 15),
            (17, 15),
            (18, 20),
            (22, 20),
            (23, 25),
            (41_248, 41_250),
            (41_252, 41_250),
            (41_253, 41_255),
        ];
        for (count, published) in cases {
            assert_eq!(round_to_5(count), published, "{count}");
        }
    }

    #[test]
    fn one_to_seven_are_suppressed_and_eight_is_not() {
        let values: Vec<i64> = (0..=9).collect();
        let expected = [Some(0), None, None, None, None, None, None, None, Some(10), Some(10)];
        assert_eq!(protect(&values, &[]), expected);
    }

    #[test]
    fn rates_are_computed_from_the_published_numbers() {
        // 13 screened of 27 eligible is published as 15 of 25, so the published rate is 0.6, not 0.4815.
        let published = protect(&[27, 13], &[]);
        assert_eq!(published, [Some(25), Some(15)]);
        assert_eq!(rate(published[1], published[0]), Some(0.6));

        // docs/design.md §4's example: 30110 / 41250 = 0.729939… → 0.7299; 6624 / 30110 = 0.219993… → 0.22.
        assert_eq!(rate(Some(30_110), Some(41_250)), Some(0.7299));
        assert_eq!(rate(Some(6_624), Some(30_110)), Some(0.22));
        assert_eq!(rate(Some(2), Some(3)), Some(0.6667), "rounded half up at the 4th place");
        assert_eq!(rate(Some(0), Some(25)), Some(0.0));
        assert_eq!(rate(None, Some(25)), None, "suppressed numerator");
        assert_eq!(rate(Some(10), None), None, "suppressed denominator");
        assert_eq!(rate(Some(0), Some(0)), None, "zero denominator (docs/domain.md §7)");
    }

    /// Crafted tables, their true values, and what must be published — worked out by hand from
    /// docs/domain.md §8 and the secondary rule in [`protect`]'s documentation. Each one is also attacked
    /// by [`assert_nothing_recovered`] in `no_suppressed_cell_of_a_crafted_table_is_recovered`.
    struct Crafted {
        why: &'static str,
        values: Vec<i64>,
        relations: Vec<Relation>,
        published: Vec<Option<i64>>,
    }

    fn crafted_tables() -> Vec<Crafted> {
        vec![
            Crafted {
                why: "total = 3 + 17: the 3 alone would be 20 − 17; the 17 is suppressed with it",
                values: vec![20, 3, 17],
                relations: vec![relation(0, &[1, 2])],
                published: vec![Some(20), None, None],
            },
            Crafted {
                // eligible, screened, refused, intoxicated, lacks_capacity, too_unwell, under_age,
                // not_asked, not_recorded. 52+9+0+4+11+0+14+23 = 113. lacks_capacity (4) is
                // primary; the smallest non-zero open part is refused (9).
                why: "eligible = screened + 7 reasons: one small reason hides the next smallest reason",
                values: vec![113, 52, 9, 0, 4, 11, 0, 14, 23],
                relations: vec![relation(0, &[1, 2, 3, 4, 5, 6, 7, 8])],
                published: vec![
                    Some(115),
                    Some(50),
                    None,
                    Some(0),
                    None,
                    Some(10),
                    Some(0),
                    Some(15),
                    Some(25),
                ],
            },
            Crafted {
                why: "eligible = screened + 7 reasons: two small reasons already protect each other",
                values: vec![88, 40, 5, 0, 9, 12, 0, 2, 20],
                relations: vec![relation(0, &[1, 2, 3, 4, 5, 6, 7, 8])],
                published: vec![
                    Some(90),
                    Some(40),
                    None,
                    Some(0),
                    Some(10),
                    Some(10),
                    Some(0),
                    None,
                    Some(20),
                ],
            },
            Crafted {
                // offered, accepted, declined, seen_in_department. 30+12+3 = 45.
                why: "offered = accepted + declined + seen: seen (3) hides declined (12), not accepted (30)",
                values: vec![45, 30, 12, 3],
                relations: vec![relation(0, &[1, 2, 3])],
                published: vec![Some(45), Some(30), None, None],
            },
            Crafted {
                // attended, same_day, next_day, later. A zero is never the second cell while a
                // non-zero part is open: hiding the 0 would leave 10 − 0 − 9.
                why: "attended = same_day + next_day + later: the zero part is skipped",
                values: vec![10, 1, 0, 9],
                relations: vec![relation(0, &[1, 2, 3])],
                published: vec![Some(10), None, Some(0), None],
            },
            Crafted {
                why: "every non-zero cell small, total included: primary suppression is enough",
                values: vec![5, 2, 3, 0],
                relations: vec![relation(0, &[1, 2, 3])],
                published: vec![None, None, None, Some(0)],
            },
            Crafted {
                why: "all other cells zero: the total equals the small part and is small itself",
                values: vec![5, 5, 0, 0],
                relations: vec![relation(0, &[1, 2, 3])],
                published: vec![None, None, Some(0), Some(0)],
            },
            Crafted {
                // T1 = a + b, T2 = b + c with a = 3, b = 20, c = 0. b is hidden for a; in the
                // second relation the only other part is 0, so its total (20) is hidden.
                why: "all other parts zero: the non-zero total is the second cell",
                values: vec![23, 3, 20, 20, 0],
                relations: vec![relation(0, &[1, 2]), relation(3, &[2, 4])],
                published: vec![Some(25), None, None, None, Some(0)],
            },
            Crafted {
                // T1 = a + b + c, T2 = c + d, T3 = d + e with a = 4, b = 15, c = 9, d = 30, e = 11.
                // a hides c (9 < 15); c breaks T2, which hides d; d breaks T3, which hides e.
                why: "a shared cell cascades through three relations",
                values: vec![28, 4, 15, 9, 39, 30, 41, 11],
                relations: vec![relation(0, &[1, 2, 3]), relation(4, &[3, 5]), relation(6, &[5, 7])],
                published: vec![Some(30), None, Some(15), None, Some(40), None, Some(40), None],
            },
            Crafted {
                // T1 = a + b = 5 (all three small); T2 = T1 + e = 25 needs e hidden too.
                why: "a small subtotal is a part of a larger total",
                values: vec![5, 2, 3, 25, 20],
                relations: vec![relation(0, &[1, 2]), relation(3, &[0, 4])],
                published: vec![None, None, None, Some(25), None],
            },
            Crafted {
                why: "ties for the smallest part go to the lowest cell index",
                values: vec![22, 2, 10, 10],
                relations: vec![relation(0, &[1, 2, 3])],
                published: vec![Some(20), None, None, Some(10)],
            },
            Crafted {
                // positive = male + female = fall + assault + other; female (6) and other (3) are
                // small. The first breakdown hides male, the second hides fall (12 < 16).
                why: "one total broken down two ways",
                values: vec![31, 25, 6, 12, 16, 3],
                relations: vec![relation(0, &[1, 2]), relation(0, &[3, 4, 5])],
                published: vec![Some(30), None, None, None, Some(15), None],
            },
            Crafted {
                // X = a + b, Y = b + c, Z = a + c: a = (X − Y + Z) / 2 exactly, yet each relation
                // has two hidden cells. Rounding saves it: a ∈ [(13−22+13)/2, (17−18+17)/2] = [2, 8].
                why: "a cycle of three relations",
                values: vec![13, 3, 10, 20, 10, 13],
                relations: vec![relation(0, &[1, 2]), relation(3, &[2, 4]), relation(5, &[1, 4])],
                published: vec![Some(15), None, None, Some(20), None, Some(15)],
            },
            Crafted {
                // a b / c d with row totals R1 R2, column totals C1 C2 and the grand total G,
                // cells 0..=8 = a b c d R1 R2 C1 C2 G. a = 3 hides b (its row) and c (its column);
                // b's column then hides d. R1 = 13, R2 = 32, C1 = 15, C2 = 30, G = 45.
                why: "a two-by-two cross-tabulation with its margins: the whole inside goes",
                values: vec![3, 10, 12, 20, 13, 32, 15, 30, 45],
                relations: vec![
                    relation(4, &[0, 1]),
                    relation(5, &[2, 3]),
                    relation(6, &[0, 2]),
                    relation(7, &[1, 3]),
                    relation(8, &[4, 5]),
                    relation(8, &[6, 7]),
                ],
                published: vec![None, None, None, None, Some(15), Some(30), Some(15), Some(30), Some(45)],
            },
            Crafted {
                // The three shapes the funnel publishes, side by side in one table:
                // 0 eligible = 1 screened + 2..=8 reasons; 9 offered = 10 accepted + 11 declined +
                // 12 seen_in_department; 13 attended = 14 same_day + 15 next_day + 16 later.
                why: "the funnel's three relations together",
                values: vec![
                    60, 31, 0, 7, 0, 8, 0, 0, 14, // eligible
                    9, 6, 3, 0, // offered
                    6, 2, 4, 0, // attended
                ],
                relations: vec![
                    relation(0, &[1, 2, 3, 4, 5, 6, 7, 8]),
                    relation(9, &[10, 11, 12]),
                    relation(13, &[14, 15, 16]),
                ],
                published: vec![
                    Some(60),
                    Some(30),
                    Some(0),
                    None,
                    Some(0),
                    None,
                    Some(0),
                    Some(0),
                    Some(15),
                    Some(10),
                    None,
                    None,
                    Some(0),
                    None,
                    None,
                    None,
                    Some(0),
                ],
            },
            Crafted {
                // Found by the random tables. R0: c1 = c3 + c4 (1 = 0 + 1), R1: c5 = c2 + c1
                // (12 = 11 + 1), R2: c2 = c6 + c7 + c8 + c9 (11 = 1 + 8 + 1 + 1). The 1s are
                // primary; R1 has one star, so c2 (11) is hidden. Then a reader pins everything:
                // c2 ≥ 1 + 8 + 1 + 1 = 11 and c1 ≥ 1, while c5 (published 10) ≤ 12, so c2 = 11 and
                // c1 = 1. c1's first relation R0 has only the zero c3 open, and a zero is never
                // hidden, so the help comes from R1: its total c5 is hidden too.
                why: "a pinned cell whose first relation has only a zero left is helped by its next relation",
                values: vec![0, 1, 11, 0, 1, 12, 1, 8, 1, 1],
                relations: vec![relation(1, &[3, 4]), relation(5, &[2, 1]), relation(2, &[6, 7, 8, 9])],
                published: vec![Some(0), None, None, Some(0), None, None, None, Some(10), None, None],
            },
        ]
    }

    #[test]
    fn crafted_tables_are_published_as_worked_out_by_hand() {
        for table in crafted_tables() {
            assert_eq!(
                protect(&table.values, &table.relations),
                table.published,
                "{}",
                table.why
            );
        }
    }

    #[test]
    fn a_true_zero_is_never_the_second_cell() {
        // The total is hidden already and every open part is 0: nothing in this relation can be
        // hidden for its sake (the caller looks in the cell's other relations instead).
        let values = [0, 0, 0, 0];
        let suppressed = [true, false, false, false];
        assert_eq!(second_cell(&values, &suppressed, &relation(0, &[3, 1, 2])), None);
        // Nothing left to hide: a total without parts.
        assert_eq!(second_cell(&[4], &[true], &relation(0, &[])), None);
        assert_eq!(protect(&[4], &[relation(0, &[])]), [None]);
    }

    // ---- The adversary -----------------------------------------------------------------------
    //
    // A reader who knows the table's relations and docs/domain.md §8 and works back from the published
    // cells to every table of true values consistent with them:
    // - `Some(0)` is exactly 0;
    // - `Some(v)`, v > 0, is a true value in [v − 2, v + 2] that is at least 8 (1–7 are never shown);
    // - `None` is 1..=7 if it was small, or anything in 0..=bound if it was hidden by secondary
    //   suppression — the reader cannot tell which, so 0..=bound.
    // A table is consistent when every relation holds exactly. The search narrows each cell's
    // interval from the relations (total within the sum of its parts' bounds, each part within
    // the total's bounds less the others') and splits the widest-open cell in two, so it decides
    // "is there a consistent table with this cell in this range?" exactly without listing every
    // table one by one.

    /// The interval each cell's true value lies in, as the reader of `published` knows it.
    fn knowledge(published: &[Option<i64>], bound: i64) -> (Vec<i64>, Vec<i64>) {
        published
            .iter()
            .map(|cell| match *cell {
                Some(0) => (0, 0),
                Some(v) => ((v - 2).max(SMALLEST_PUBLISHED), v + 2),
                None => (0, bound),
            })
            .unzip()
    }

    /// A table of true values within `[lo, hi]` in which every relation holds, if there is one.
    fn solve(mut lo: Vec<i64>, mut hi: Vec<i64>, relations: &[Relation]) -> Option<Vec<i64>> {
        if !narrow(&mut lo, &mut hi, relations) {
            return None;
        }
        let Some(cell) = (0..lo.len()).filter(|&c| lo[c] < hi[c]).max_by_key(|&c| hi[c] - lo[c]) else {
            // Every cell fixed and every relation narrowed to it: the relations hold exactly.
            return Some(lo);
        };
        let middle = lo[cell] + (hi[cell] - lo[cell]) / 2;
        let mut lower_hi = hi.clone();
        lower_hi[cell] = middle;
        solve(lo.clone(), lower_hi, relations).or_else(|| {
            lo[cell] = middle + 1;
            solve(lo, hi, relations)
        })
    }

    /// Every true value `cell` takes across the tables consistent with `published`.
    fn possible_values(published: &[Option<i64>], relations: &[Relation], bound: i64, cell: usize) -> BTreeSet<i64> {
        let (lo, hi) = knowledge(published, bound);
        (lo[cell]..=hi[cell])
            .filter(|&v| {
                let (mut lo, mut hi) = (lo.clone(), hi.clone());
                (lo[cell], hi[cell]) = (v, v);
                solve(lo, hi, relations).is_some()
            })
            .collect()
    }

    /// The suppressed cells the reader can pin to a single value, with that value.
    fn recovered(published: &[Option<i64>], relations: &[Relation], bound: i64) -> Vec<(usize, i64)> {
        let (lo, hi) = knowledge(published, bound);
        let Some(one) = solve(lo.clone(), hi.clone(), relations) else {
            return Vec::new();
        };
        (0..published.len())
            .filter(|&c| published[c].is_none())
            .filter(|&c| {
                let (mut below, mut above) = (hi.clone(), lo.clone());
                below[c] = one[c] - 1;
                above[c] = one[c] + 1;
                solve(lo.clone(), below, relations).is_none() && solve(above, hi.clone(), relations).is_none()
            })
            .map(|c| (c, one[c]))
            .collect()
    }

    /// The reader's upper limit for a hidden cell: the largest published value + 10. Never below a
    /// true value (plus the same margin), or the reader would be reasoning from a false premise
    /// and could "recover" a cell only because the truth was ruled out.
    fn bound_for(values: &[i64], published: &[Option<i64>]) -> i64 {
        let largest_published = published.iter().flatten().copied().max().unwrap_or(0);
        let largest_true = values.iter().copied().max().unwrap_or(0);
        largest_published.max(largest_true) + 10
    }

    /// Protects `values`, attacks the result and fails if any suppressed cell is recovered.
    fn assert_nothing_recovered(values: &[i64], relations: &[Relation], why: &str) {
        let published = protect(values, relations);
        let bound = bound_for(values, &published);
        let (lo, hi) = knowledge(&published, bound);
        assert!(
            solve(values.to_vec(), values.to_vec(), relations).is_some()
                && (0..values.len()).all(|c| (lo[c]..=hi[c]).contains(&values[c])),
            "{why}: the true table {values:?} must be one the reader considers"
        );
        let pinned = recovered(&published, relations, bound);
        assert!(
            pinned.is_empty(),
            "{why}: {values:?} with {relations:?} published as {published:?}: recovered (cell, value) {pinned:?}"
        );
    }

    #[test]
    fn no_suppressed_cell_of_a_crafted_table_is_recovered() {
        for table in crafted_tables() {
            assert_nothing_recovered(&table.values, &table.relations, table.why);
            // And, spelled out: each hidden cell has at least two values the reader cannot tell apart.
            let bound = bound_for(&table.values, &table.published);
            for cell in (0..table.values.len()).filter(|&c| table.published[c].is_none()) {
                let values = possible_values(&table.published, &table.relations, bound, cell);
                assert!(values.len() >= 2, "{}: cell {cell} can only be {values:?}", table.why);
                assert!(values.contains(&table.values[cell]), "{}: cell {cell}", table.why);
            }
        }
    }

    /// Primary suppression and rounding only, as a service without secondary suppression would
    /// publish.
    fn primary_only(values: &[i64]) -> Vec<Option<i64>> {
        protect(values, &[])
    }

    #[test]
    fn without_secondary_suppression_the_reader_recovers_a_cell() {
        // The adversary can fail. One relation alone never gives a cell away after rounding: with
        // one hidden part a, a = T − Σ others lies in an interval of width at least 8 centred on a
        // multiple of 5 (total = 20, parts 3 and 17 → 20, *, 15 leaves a ∈ [18−17, 22−13] = [1, 9]).
        // Two relations sharing the hidden cell can pin it where their intervals touch:
        //   T1 = a + b + c: 22 = 6 + 8 + 8, published 20, *, 10, 10 → a ∈ [18−12−12, 22−8−8] = [−6, 6]
        //   T2 = a + d:     18 = 6 + 12,    published 20, *, 10     → a ∈ [18−12, 22−8]      = [6, 14]
        // so a = 6 exactly, though every cell the reader sees is rounded.
        let values = [22, 6, 8, 8, 18, 12];
        let relations = [relation(0, &[1, 2, 3]), relation(4, &[1, 5])];
        let leaky = primary_only(&values);
        assert_eq!(leaky, [Some(20), None, Some(10), Some(10), Some(20), Some(10)]);
        let bound = bound_for(&values, &leaky);
        assert_eq!(possible_values(&leaky, &relations, bound, 1), BTreeSet::from([6]));
        assert_eq!(recovered(&leaky, &relations, bound), [(1, 6)]);

        // With secondary suppression: b (8) is hidden for T1 and d (12) for T2, and a is safe.
        assert_eq!(
            protect(&values, &relations),
            [Some(20), None, None, Some(10), Some(20), None]
        );
        assert_nothing_recovered(&values, &relations, "the same table, protected");

        // And the single-relation case really is hidden by rounding alone.
        let single = [relation(0, &[1, 2])];
        let published = primary_only(&[20, 3, 17]);
        assert_eq!(published, [Some(20), None, Some(15)]);
        assert_eq!(
            possible_values(&published, &single, bound_for(&[20, 3, 17], &published), 1),
            (1..=9).collect()
        );
    }

    #[test]
    fn parts_that_overlap_are_outside_the_guarantee() {
        // protect assumes each relation's parts are disjoint (they share no attendance), as in
        // every table the service publishes. Here X counts a and b twice (X = A + a + b, A = a + b)
        // and Y counts them three times, so rounding's uncertainty shrinks with each multiple:
        //   X = 2A, published 10 → A ∈ [8/2, 12/2] = {4, 5, 6}
        //   Y = 3A, published 10 → A ∈ [8/3, 12/3] ∩ ℤ = {3, 4}
        // so A = 4, though every relation holds at least two suppressed cells. The test documents
        // the limit; the random tables below draw only disjoint parts.
        let values = [4, 2, 2, 8, 12];
        let relations = [relation(0, &[1, 2]), relation(3, &[2, 0, 1]), relation(4, &[2, 3, 1])];
        let published = protect(&values, &relations);
        assert_eq!(published, [None, None, None, Some(10), Some(10)]);
        let bound = bound_for(&values, &published);
        assert_eq!(possible_values(&published, &relations, bound, 0), BTreeSet::from([4]));
    }

    // ---- Random tables -----------------------------------------------------------------------
    //
    // A random table is a population of attendances (one number each) and cells that count sets
    // of them, so every relation is a true partition: a total is the union of parts that share no
    // attendance. Cells start as 1–5 disjoint sets; a step either adds a cell that is the union of
    // up to four existing cells that share nothing, or breaks an existing cell into two to four
    // new cells (a second breakdown when the cell is already a total — positives by sex and by
    // presenting condition). Steps can link relations in chains, trees and cycles.

    /// How a random table grows.
    #[derive(Clone, Debug)]
    enum Step {
        /// A new cell, the union of up to four existing cells that share no attendance.
        Sum(Vec<Index>),
        /// An existing cell broken down into new cells at up to three cut points.
        Split(Index, Vec<Index>),
    }

    /// The largest true value in a random table, so that the reader's search stays small.
    const LARGEST: usize = 40;

    fn build(first: Vec<i64>, steps: Vec<Step>) -> (Vec<i64>, Vec<Relation>) {
        let mut next = 0;
        let mut members: Vec<BTreeSet<u32>> = first
            .iter()
            .map(|&count| {
                let start = next;
                next += count as u32;
                (start..next).collect()
            })
            .collect();
        let mut relations = Vec::new();
        for step in steps {
            match step {
                Step::Sum(picks) => {
                    let mut parts: Vec<usize> = Vec::new();
                    let mut union = BTreeSet::new();
                    for pick in picks {
                        let cell = pick.index(members.len());
                        let fits = union.len() + members[cell].len() <= LARGEST;
                        if !parts.contains(&cell) && members[cell].is_disjoint(&union) && fits {
                            parts.push(cell);
                            union.extend(members[cell].iter().copied());
                        }
                    }
                    relations.push(Relation {
                        total: members.len(),
                        parts,
                    });
                    members.push(union);
                }
                Step::Split(total, cuts) => {
                    let total = total.index(members.len());
                    let whole: Vec<u32> = members[total].iter().copied().collect();
                    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(whole.len() + 1)).collect();
                    points.extend([0, whole.len()]);
                    points.sort_unstable();
                    let parts = (members.len()..members.len() + points.len() - 1).collect();
                    members.extend(points.windows(2).map(|w| whole[w[0]..w[1]].iter().copied().collect()));
                    relations.push(Relation { total, parts });
                }
            }
        }
        (members.iter().map(|m| m.len() as i64).collect(), relations)
    }

    /// 1–5 first cells, mostly small or zero, then 1–3 relations of at most 5 cells each.
    fn table() -> impl Strategy<Value = (Vec<i64>, Vec<Relation>)> {
        let first = prop_oneof![2 => Just(0i64), 4 => 1..=7i64, 3 => 8..=15i64];
        let step = prop_oneof![
            proptest::collection::vec(any::<Index>(), 1..=4).prop_map(Step::Sum),
            (any::<Index>(), proptest::collection::vec(any::<Index>(), 1..=3))
                .prop_map(|(total, cuts)| Step::Split(total, cuts)),
        ];
        (
            proptest::collection::vec(first, 1..=5),
            proptest::collection::vec(step, 1..=3),
        )
            .prop_map(|(first, steps)| build(first, steps))
    }

    proptest! {
        #[test]
        fn no_suppressed_cell_of_a_random_table_is_recovered((values, relations) in table()) {
            let published = protect(&values, &relations);
            for (c, (&v, p)) in values.iter().zip(&published).enumerate() {
                prop_assert!(!is_small(v) || p.is_none(), "cell {} = {} must be suppressed", c, v);
                prop_assert!(p.is_none() || *p == Some(round_to_5(v)), "cell {} = {} published as {:?}", c, v, p);
                prop_assert!(v > 0 || p.is_some(), "a true zero is never hidden: cell {}", c);
            }
            for r in &relations {
                let hidden = r.cells().filter(|&c| published[c].is_none()).count();
                prop_assert!(hidden != 1, "{:?} is left with one hidden cell in {:?}", r, published);
            }
            assert_nothing_recovered(&values, &relations, "random table");
        }
    }

    // ---- A reader who also knows the rule ----------------------------------------------------
    //
    // The rule is no secret (it is in this file), so a stronger reader keeps only the candidate
    // tables that `protect` itself would publish as what they see. That reader learns more than
    // the one above: which stars are primary (in a table of one relation, three or more stars
    // mean no secondary suppression happened, so every star is 1–7), and the second cell's rank
    // ("the smallest non-zero part"). Listing every candidate is slow, so this runs on small
    // tables only.

    /// Every table within `[lo, hi]` in which every relation holds.
    fn every_table(mut lo: Vec<i64>, mut hi: Vec<i64>, relations: &[Relation], tables: &mut Vec<Vec<i64>>) {
        if !narrow(&mut lo, &mut hi, relations) {
            return;
        }
        match (0..lo.len()).find(|&c| lo[c] < hi[c]) {
            None => tables.push(lo),
            Some(cell) => {
                for v in lo[cell]..=hi[cell] {
                    let (mut lo, mut hi) = (lo.clone(), hi.clone());
                    (lo[cell], hi[cell]) = (v, v);
                    every_table(lo, hi, relations, tables);
                }
            }
        }
    }

    /// For each cell, the values it takes across the candidate tables `protect` publishes exactly
    /// as it published `values`.
    fn rule_aware_values(values: &[i64], relations: &[Relation]) -> Vec<BTreeSet<i64>> {
        let published = protect(values, relations);
        let (lo, hi) = knowledge(&published, bound_for(values, &published));
        let mut tables = Vec::new();
        every_table(lo, hi, relations, &mut tables);
        tables.retain(|table| protect(table, relations) == published);
        (0..values.len())
            .map(|c| tables.iter().map(|t| t[c]).collect())
            .collect()
    }

    #[test]
    fn a_reader_who_knows_the_rule_recovers_no_crafted_cell() {
        for table in crafted_tables().iter().filter(|t| t.values.len() <= 8) {
            let seen = rule_aware_values(&table.values, &table.relations);
            for cell in (0..table.values.len()).filter(|&c| table.published[c].is_none()) {
                assert!(seen[cell].len() >= 2, "{}: cell {cell} is {:?}", table.why, seen[cell]);
            }
        }
    }

    #[test]
    fn a_reader_who_knows_the_rule_cannot_pin_a_cell_at_a_rounding_edge() {
        // Found by an exhaustive run over every relation of four parts valued 0–14 before the
        // pin check existed: secondary suppression alone left these two open to a reader who
        // knows the rule.
        //
        // 28 = 7 + 7 + 7 + 7: the four parts are small, so each is ≤ 7, and the total 30 says
        // 28..=32: each would be 7. The pin check hides the total as well.
        let relations = [relation(0, &[1, 2, 3, 4])];
        let values = [28, 7, 7, 7, 7];
        assert_eq!(protect(&values, &relations), [None, None, None, None, None]);
        //
        // 43 = 12 + 12 + 12 + 7: the 7 hides the smallest open part, the first 12 (ties: lowest
        // index), which is then ≤ 12, the other open parts being 10 (8..=12); with 45 (43..=47)
        // the two hidden ones would be 12 and 7. Hiding the next 12 (the smallest open part) still
        // leaves 43 − 12 − 7 − 12 ≤ 12 ≤ the last: 12 each. Only the last part hidden too
        // leaves two unknowns free: 45, *, *, *, *.
        let values = [43, 12, 12, 12, 7];
        assert_eq!(protect(&values, &relations), [Some(45), None, None, None, None]);

        for values in [[28, 7, 7, 7, 7], [43, 12, 12, 12, 7]] {
            let seen = rule_aware_values(&values, &relations);
            for (cell, possible) in seen.iter().enumerate().skip(1) {
                assert!(possible.len() >= 2, "{values:?}: cell {cell} is {possible:?}");
            }
        }
    }

    #[test]
    fn a_reader_who_knows_the_rule_pins_nothing_in_small_relations() {
        // Every relation of three or four parts whose values are 0, 1, 6, 7, 8 and 12 (zero,
        // the small range's ends, the first published count, a rounding edge), the total
        // their sum: whatever the reader deduces from the rule, each hidden cell keeps two
        // possible values.
        const EDGES: [i64; 6] = [0, 1, 6, 7, 8, 12];
        for parts in 3..=4usize {
            let relations = [relation(0, &(1..=parts).collect::<Vec<_>>())];
            let mut digits = vec![0usize; parts];
            loop {
                let part_values: Vec<i64> = digits.iter().map(|&d| EDGES[d]).collect();
                let mut values = vec![part_values.iter().sum()];
                values.extend(&part_values);
                let published = protect(&values, &relations);
                let seen = rule_aware_values(&values, &relations);
                for cell in (0..values.len()).filter(|&c| published[c].is_none()) {
                    assert!(
                        seen[cell].len() >= 2,
                        "{values:?} as {published:?}: cell {cell} is {:?}",
                        seen[cell]
                    );
                }
                // the next combination, like an odometer
                let Some(i) = digits.iter().position(|&d| d + 1 < EDGES.len()) else {
                    break;
                };
                digits[i] += 1;
                digits[..i].iter_mut().for_each(|d| *d = 0);
            }
        }
    }
}
