{{ netflix_bridge('cast_members') }}
