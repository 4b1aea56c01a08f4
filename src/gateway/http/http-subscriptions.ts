/**
 * Subscriptions are served over graphql-ws only. Apollo Server runs a subscription sent by
 * HTTP POST or GET as if it were a query: its resolvers then get no event and failed with
 * INTERNAL. This plugin refuses it first, saying where subscriptions go.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { BadInputError } from '../../domain/index.js';

export const SUBSCRIPTIONS_OVER_WS =
  'Subscriptions are served over WebSocket only: connect to /graphql with the graphql-ws protocol (connectionParams: { authorization: "Bearer <token>" }) and subscribe there.';

export function refuseHttpSubscriptions<C extends object>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError(SUBSCRIPTIONS_OVER_WS, {
            originalError: new BadInputError([SUBSCRIPTIONS_OVER_WS]),
            extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
          });
        },
      };
    },
  };
}
