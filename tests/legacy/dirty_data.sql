-- An old deployment's data with every kind of dirt `momento legacy` repairs or reports.
-- Users (bcrypt hashes as GoTrue writes them, $2a$, cost 4: the password is tests/auth/helpers.PASSWORD):
--  1 alice  clean                        4 dave   username 'al' (too short)
--  2 bob    username 'Bob Smith!'        5 erin   username 'ALICE' (alice's, in another case)
--  3 carol  no profile at all            6 frank  unconfirmed, display name of 80 characters
INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at, last_sign_in_at)
SELECT '00000000-0000-0000-0000-000000000000', ('a' || n || '000000-0000-4000-8000-00000000000' || n)::uuid,
       'authenticated', 'authenticated', name || '@old.example',
       '$2a$04$bhA4wliD6fm.YFtZ2MFJNOR0IeqgxW/Gnl4tjdKoVYG2QfIy/77TK',
       CASE WHEN n = 6 THEN NULL ELSE now() - interval '400 days' END,
       '{"provider": "email", "providers": ["email"]}',
       jsonb_build_object('username', name),
       now() - interval '400 days' + n * interval '1 day', now() - interval '30 days', now() - interval '30 days'
FROM (VALUES (1, 'alice'), (2, 'bob'), (3, 'carol'), (4, 'dave'), (5, 'erin'), (6, 'frank')) v(n, name);

INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
SELECT u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true),
       'email', u.created_at, u.created_at
FROM auth.users u;

INSERT INTO public.profiles (id, username, first_name, last_name, display_name, avatar_url, created_at)
VALUES ('a1000000-0000-4000-8000-000000000001', 'alice', 'Alice', 'A', 'Alice', 'https://img.example/a.png', now() - interval '399 days'),
       ('a2000000-0000-4000-8000-000000000002', 'Bob Smith!', 'Bob', 'Smith', NULL, NULL, now() - interval '398 days'),
       ('a4000000-0000-4000-8000-000000000004', 'al', 'Dave', NULL, 'Dave', NULL, now() - interval '396 days'),
       ('a5000000-0000-4000-8000-000000000005', 'ALICE', 'Erin', NULL, 'Erin', NULL, now() - interval '395 days'),
       ('a6000000-0000-4000-8000-000000000006', 'frank', NULL, NULL, repeat('F', 80), NULL, now() - interval '394 days');

-- Events: 1 free, revealed 60 days ago (its retention counts from the import); 2 a blank title
-- and a lowercase join code; 3 a title of 150 characters, a code with letters the alphabet
-- lacks, a release before its start; 4 premium, its creator never a member; 5 free, revealed
-- 60 days ago and deleted at the source.
INSERT INTO public.events (id, title, join_code, creator_id, starts_at, ends_at, release_at, is_premium,
                           is_deleted, member_count, photo_count, is_revealed, created_at)
VALUES ('e0000000-0000-0000-0000-000000000001', 'Beach Party', 'ABC234', 'a1000000-0000-4000-8000-000000000001',
        now() - interval '62 days', now() - interval '61 days', now() - interval '60 days', false, false, 3, 4, true, now() - interval '63 days'),
       ('e0000000-0000-0000-0000-000000000002', '   ', 'xyz789', 'a2000000-0000-4000-8000-000000000002',
        now() - interval '1 day', NULL, now() + interval '2 days', false, false, 1, 1, false, now() - interval '2 days'),
       ('e0000000-0000-0000-0000-000000000003', repeat('Long ', 30), 'O0I1LX', 'a4000000-0000-4000-8000-000000000004',
        now() - interval '10 days', NULL, now() - interval '11 days', false, false, 1, 1, true, now() - interval '12 days'),
       ('e0000000-0000-0000-0000-000000000004', 'Wedding', 'WED234', 'a5000000-0000-4000-8000-000000000005',
        now() - interval '100 days', NULL, now() - interval '99 days', true, false, 1, 0, true, now() - interval '101 days'),
       ('e0000000-0000-0000-0000-000000000005', 'Old Party', 'QKD234', 'a1000000-0000-4000-8000-000000000001',
        now() - interval '62 days', NULL, now() - interval '60 days', false, true, 1, 0, true, now() - interval '63 days');

-- Memberships: bob twice in event 1 (the earliest joined_at is kept), erin's own event 4 without her.
INSERT INTO public.event_members (event_id, user_id, joined_at, role)
VALUES ('e0000000-0000-0000-0000-000000000001', 'a1000000-0000-4000-8000-000000000001', now() - interval '63 days', 'host'),
       ('e0000000-0000-0000-0000-000000000001', 'a2000000-0000-4000-8000-000000000002', now() - interval '62 days', 'member'),
       ('e0000000-0000-0000-0000-000000000001', 'a2000000-0000-4000-8000-000000000002', now() - interval '61 days', 'member'),
       ('e0000000-0000-0000-0000-000000000001', 'a3000000-0000-4000-8000-000000000003', now() - interval '62 days', 'member'),
       ('e0000000-0000-0000-0000-000000000002', 'a2000000-0000-4000-8000-000000000002', now() - interval '2 days', 'host'),
       ('e0000000-0000-0000-0000-000000000002', 'a3000000-0000-4000-8000-000000000003', now() - interval '1 day', 'member'),
       ('e0000000-0000-0000-0000-000000000003', 'a4000000-0000-4000-8000-000000000004', now() - interval '12 days', 'host'),
       ('e0000000-0000-0000-0000-000000000004', 'a1000000-0000-4000-8000-000000000001', now() - interval '100 days', 'member'),
       ('e0000000-0000-0000-0000-000000000005', 'a1000000-0000-4000-8000-000000000001', now() - interval '63 days', 'host');

-- Photos: 2 has a status outside the new check; 3 and 4 no username (4's owner has no profile).
INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_at, captured_by_username, upload_status, device_type, file_size, is_revealed)
VALUES ('f0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-000000000001', 'a1000000-0000-4000-8000-000000000001',
        'e0000000-0000-0000-0000-000000000001/f0000000-0000-0000-0000-000000000001.jpg', now() - interval '61 days 12 hours', 'alice', 'uploaded', 'iPhone', 1000, true),
       ('f0000000-0000-0000-0000-000000000002', 'e0000000-0000-0000-0000-000000000001', 'a2000000-0000-4000-8000-000000000002',
        'e0000000-0000-0000-0000-000000000001/f0000000-0000-0000-0000-000000000002.jpg', now() - interval '61 days 11 hours', 'Bob Smith!', 'complete', 'iPhone', 1000, true),
       ('f0000000-0000-0000-0000-000000000003', 'e0000000-0000-0000-0000-000000000001', 'a2000000-0000-4000-8000-000000000002',
        'e0000000-0000-0000-0000-000000000001/f0000000-0000-0000-0000-000000000003.jpg', now() - interval '61 days 10 hours', NULL, 'uploaded', NULL, NULL, true),
       ('f0000000-0000-0000-0000-000000000004', 'e0000000-0000-0000-0000-000000000001', 'a3000000-0000-4000-8000-000000000003',
        'e0000000-0000-0000-0000-000000000001/f0000000-0000-0000-0000-000000000004.jpg', now() - interval '61 days 9 hours', NULL, 'uploaded', NULL, NULL, true),
       ('f0000000-0000-0000-0000-000000000005', 'e0000000-0000-0000-0000-000000000002', 'a2000000-0000-4000-8000-000000000002',
        'e0000000-0000-0000-0000-000000000002/f0000000-0000-0000-0000-000000000005.jpg', now() - interval '1 hour', 'Bob Smith!', 'pending', NULL, NULL, false),
       ('f0000000-0000-0000-0000-000000000006', 'e0000000-0000-0000-0000-000000000003', 'a4000000-0000-4000-8000-000000000004',
        'e0000000-0000-0000-0000-000000000003/f0000000-0000-0000-0000-000000000006.jpg', now() - interval '10 days', 'al', 'failed', NULL, NULL, true);

-- Interactions: likes (alice liked photo 2 twice), other statuses that are not likes, a like
-- of a photo that is gone and a like by a user that is gone.
INSERT INTO public.photo_interactions (photo_id, user_id, status, created_at)
VALUES ('f0000000-0000-0000-0000-000000000002', 'a1000000-0000-4000-8000-000000000001', 'liked', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-000000000002', 'a1000000-0000-4000-8000-000000000001', 'liked', now() - interval '58 days'),
       ('f0000000-0000-0000-0000-000000000001', 'a2000000-0000-4000-8000-000000000002', 'liked', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-000000000003', 'a3000000-0000-4000-8000-000000000003', 'liked', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-000000000001', 'a3000000-0000-4000-8000-000000000003', 'viewed', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-000000000003', 'a5000000-0000-4000-8000-000000000005', 'downloaded', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-0000000000ff', 'a4000000-0000-4000-8000-000000000004', 'liked', now() - interval '59 days'),
       ('f0000000-0000-0000-0000-000000000001', 'aff00000-0000-4000-8000-0000000000ff', 'liked', now() - interval '59 days');

INSERT INTO public.keepsakes (id, name) VALUES ('c0000000-0000-0000-0000-000000000001', 'First reveal');
INSERT INTO public.user_keepsakes (user_id, keepsake_id)
VALUES ('a1000000-0000-4000-8000-000000000001', 'c0000000-0000-0000-0000-000000000001');
INSERT INTO public.user_reveal_progress (user_id, event_id, last_photo_index, completed)
VALUES ('a1000000-0000-4000-8000-000000000001', 'e0000000-0000-0000-0000-000000000001', 3, true);

INSERT INTO storage.buckets (id, name, public) VALUES ('photos', 'photos', false);
INSERT INTO storage.objects (bucket_id, name, metadata)
SELECT 'photos', p.storage_path, '{"mimetype": "image/jpeg"}' FROM public.photos p;
