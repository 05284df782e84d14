// What the screens' unit tests share: a signed-in dietician's status, changed per test.
import type { Status, User } from './api';

/** A user as the platform describes them: give who they are, the rest is a fresh account's. */
export function account(who: Pick<User, 'id' | 'email' | 'name' | 'type'>): User {
  return {
    carepatron_id: null,
    provider_id: null,
    patient_id: null,
    version: 1,
    created_at: '2026-11-01T09:00:00Z',
    updated_at: '2026-11-01T09:00:00Z',
    ...who,
  };
}

/** A dietician, online, nothing waiting; spread it and change what the test is about. */
export const SIGNED_IN: Status = {
  signed_in: true,
  server: 'http://127.0.0.1:8080',
  user: account({ id: 'me', email: 'dee@example.org', name: 'Dee', type: 'dietician' }),
  online: true,
  syncing: false,
  pending: 0,
  conflicts: 0,
  rejected: 0,
  new_inquiries: 0,
  last_sync: null,
  default_server: 'http://127.0.0.1:8080',
  notice: null,
  can: { create_patients: true, read_inquiries: true, manage_users: false, create_user_types: ['patient'] },
};
