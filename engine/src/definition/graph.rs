//! Graph checks over one scope (the top level, or one foreach body), on node indices.
//! Iterative, so a long chain cannot overflow the stack (the browser's stack is small).

/// Adjacency lists of a scope: `successors[n]` are the targets of `n`'s edges.
pub(crate) struct Graph {
    successors: Vec<Vec<usize>>,
}

impl Graph {
    pub fn new(nodes: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut successors = vec![Vec::new(); nodes];
        for (from, to) in edges {
            if let Some(list) = successors.get_mut(from) {
                list.push(to);
            }
        }
        Self { successors }
    }

    /// Which nodes a walk from `entries` reaches.
    pub fn reachable(&self, entries: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.successors.len()];
        let mut stack: Vec<usize> = entries.to_vec();
        while let Some(n) = stack.pop() {
            if n >= seen.len() || seen[n] {
                continue;
            }
            seen[n] = true;
            stack.extend(self.successors[n].iter().copied().filter(|s| !seen[*s]));
        }
        seen
    }

    /// One cycle per back edge found by a depth-first walk, each as the path of nodes from the
    /// node the back edge returns to, around to the node it leaves from.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let n = self.successors.len();
        let mut colour = vec![Colour::White; n];
        let mut cycles = Vec::new();
        // (node, index of the next successor to visit); the stack is the current path.
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if colour[root] != Colour::White {
                continue;
            }
            colour[root] = Colour::Grey;
            stack.push((root, 0));
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&succ) = self.successors[node].get(*next) {
                    *next += 1;
                    match colour[succ] {
                        Colour::White => {
                            colour[succ] = Colour::Grey;
                            stack.push((succ, 0));
                        }
                        Colour::Grey => {
                            let start = stack.iter().position(|(m, _)| *m == succ).unwrap_or(0);
                            cycles.push(stack[start..].iter().map(|(m, _)| *m).collect());
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[node] = Colour::Black;
                    stack.pop();
                }
            }
        }
        cycles
    }
}

#[cfg(test)]
mod tests {
    use super::Graph;

    #[test]
    fn reachability_follows_edges_only_forwards() {
        let g = Graph::new(4, [(0, 1), (1, 2), (3, 2)]);
        assert_eq!(g.reachable(&[0]), vec![true, true, true, false]);
    }

    #[test]
    fn finds_each_cycle_with_its_path() {
        let g = Graph::new(5, [(0, 1), (1, 2), (2, 1), (2, 3), (3, 3), (3, 4)]);
        let cycles = g.cycles();
        assert!(cycles.contains(&vec![1, 2]), "{cycles:?}");
        assert!(cycles.contains(&vec![3]), "{cycles:?}");
        assert_eq!(cycles.len(), 2);
    }

    #[test]
    fn a_dag_has_no_cycles_even_when_long() {
        let n = 100_000;
        let g = Graph::new(n, (0..n - 1).map(|i| (i, i + 1)));
        assert!(g.cycles().is_empty());
        assert!(g.reachable(&[0]).iter().all(|r| *r));
    }
}
