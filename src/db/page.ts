/** One page of a keyset-paginated list, as every store's `list…` returns it (a Relay connection's rows). */
export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
  totalCount: number;
}
